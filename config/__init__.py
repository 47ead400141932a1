"""Project configuration: settings per environment, the root URLs and the WSGI entry point.

Imports the apps; no app imports it."""
