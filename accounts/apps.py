from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self) -> None:
        # Importing connects the receivers: sign-in/out audit (signals), sign-in throttling (signin).
        from accounts import signals, signin  # noqa: F401
