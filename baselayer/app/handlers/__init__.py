from .base import BaseHandler, NotFoundHandler

__all__ = ["BaseHandler", "NotFoundHandler"]
