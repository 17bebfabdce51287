// <details> menus in the top bar stay open until something else is clicked, like native menus.
export function closeMenusOnOutsideClick(root: Document): void {
  root.addEventListener("click", (event) => {
    const target = event.target instanceof Node ? event.target : null;
    for (const menu of root.querySelectorAll<HTMLDetailsElement>("details.menu[open]")) {
      if (!target || !menu.contains(target)) menu.open = false;
    }
  });
}
