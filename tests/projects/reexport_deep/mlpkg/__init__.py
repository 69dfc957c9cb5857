"""The package re-exports its models with a star import."""

from .models import *  # noqa: F403
