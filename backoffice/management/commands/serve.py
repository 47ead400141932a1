"""manage.py serve: runserver (with static files) that prints how to sign in after the server's banner.

`make run` uses it so the sign-in line is the last thing on the screen, not lost above the
banner. It prints from on_bind, once the socket is listening, in each autoreloaded process.
"""

from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand
from django.db import DatabaseError, connection

from backoffice.sign_in import demo_sign_ins


class Command(RunserverCommand):
    help = "Start the development server and print the demo sign-ins after its banner."

    # Set by RunserverCommand.handle before the server binds; django-stubs does not declare them.
    addr: str
    _raw_ipv6: bool

    def on_bind(self, server_port: int) -> None:
        super().on_bind(server_port)
        host = f"[{self.addr}]" if self._raw_ipv6 else self.addr
        try:
            accounts = demo_sign_ins()
        except DatabaseError:  # not migrated yet, or the database is down: the server still runs
            accounts = []
        finally:
            connection.close()  # this thread now serves forever; keep no idle connection open
        line = f"Settle is at {self.protocol}://{host}:{server_port}/"
        if accounts:
            line += "  Sign in as " + ", ".join(f"{username} / {password}" for username, password in accounts) + "."
        self.stdout.write(self.style.SUCCESS(line))
