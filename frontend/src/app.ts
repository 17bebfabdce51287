// Every server-rendered page loads this entry: htmx for fragments, the house stylesheet.
import "htmx.org";
import "./styles/app.css";
import { closeMenusOnOutsideClick } from "./lib/menus";

closeMenusOnOutsideClick(document);
