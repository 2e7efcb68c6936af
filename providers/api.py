from rest_framework.routers import BaseRouter


def register(router: BaseRouter) -> None:
    """Add this app's endpoints to the `/api/v1/` router."""
