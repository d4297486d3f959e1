"""Our own small web-service framework: config, models, auth, handlers, services, tools.

Nothing in here knows about the application built on it.
"""
