"""A real IMAP server for tests: Debian's Dovecot on loopback, with one mailbox, in a temporary folder.

Mail is put into INBOX with the stdlib ``imaplib`` APPEND, as a mail server delivering it
would (``deliver_all``: a burst, one APPEND after another on one connection); ``seen`` and
``unseen`` read the flags the same way. The configuration, log and state live in the
test's folder. As any user but root, Dovecot runs entirely as that
user. As root it drops privileges (auth as ``dovecot``, mail as ``nobody``), and those
users cannot pass pytest's private ``/tmp/pytest-of-root``: the users file, the mail and
the sockets then go to a folder of their own under the system's temp folder (mode 0711),
removed by ``close()``. That also keeps the socket paths short (unix sockets allow 107 bytes).
"""
from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

MAX_SOCKET_DIR = 70  # unix socket paths are limited to 107 bytes; Dovecot's longest name adds ~25


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """One Dovecot process group; ``start()`` and ``stop()`` may be called again (a restart)."""

    USER, PASSWORD = "orders@factory.example", "imap-test-password"

    def __init__(self, root: Path, binary: str) -> None:
        self.root, self.binary = root, binary
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        root.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0 or len(str(root)) > MAX_SOCKET_DIR:
            self.shared = Path(tempfile.mkdtemp(prefix="orderbot-imap-"))
            self.shared.chmod(0o711)  # others may pass, not list
        else:
            self.shared = root
        self._configure()

    # ------------------------------------------------------------ setup
    def _configure(self) -> None:
        r, shared = self.root, self.shared
        (r / "state").mkdir(exist_ok=True)
        (shared / "mail").mkdir(exist_ok=True)
        (shared / "users").write_text(f"{self.USER}:{{PLAIN}}{self.PASSWORD}\n")
        if os.getuid() == 0:
            privileges, login_chroot = self._as_root(), ""
        else:  # one user for every process; a chroot needs root
            me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
            privileges = (f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                          f"default_internal_group = {group}\n"
                          "service anvil {\n  chroot =\n}\n")
            login_chroot = "  chroot =\n"
            self.uid, self.gid = os.getuid(), os.getgid()
        (r / "dovecot.conf").write_text(f"""protocols = imap
listen = 127.0.0.1
base_dir = {shared}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
shutdown_clients = yes
{privileges}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {shared}/users
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={shared}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{login_chroot}}}
""")

    def _as_root(self) -> str:
        """Mail as ``nobody``; the auth process (user ``dovecot``) must read the users file."""
        nobody = pwd.getpwnam("nobody")
        self.uid, self.gid = nobody.pw_uid, nobody.pw_gid
        os.chown(self.shared / "mail", self.uid, self.gid)
        (self.shared / "users").chmod(0o644)
        return ""

    # ------------------------------------------------------------ lifetime
    def start(self, timeout: float = 15) -> None:
        self.proc = subprocess.Popen([self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with self.imap():
                    return
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.1)
        self.close()  # no server left behind by a failed start
        raise RuntimeError(f"dovecot did not start within {timeout} s; {self.root / 'dovecot.log'}:\n"
                           f"{self.log()[-800:]}")

    def stop(self) -> None:
        """Stop the server and every session it runs (as a restart of the machine's service does)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        if self.shared != self.root:
            shutil.rmtree(self.shared, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ------------------------------------------------------------ the mailbox, as a mail server sees it
    @contextmanager
    def imap(self):
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            m.login(self.USER, self.PASSWORD)
            yield m
        finally:
            try:
                m.logout()
            except (OSError, imaplib.IMAP4.error):
                pass

    def deliver(self, raw: bytes) -> None:
        with self.imap() as m:
            typ, data = m.append("INBOX", None, None, raw)
            assert typ == "OK", data

    def deliver_all(self, raws: list[bytes], every: float = 0.0) -> None:
        """Put every mail into INBOX over one connection, one APPEND after another ``every`` seconds apart."""
        with self.imap() as m:
            for raw in raws:
                typ, data = m.append("INBOX", None, None, raw)
                assert typ == "OK", data
                time.sleep(every)

    def seen(self, message_id: str) -> list[bool]:
        """For each mail in INBOX with this Message-ID: whether it is marked \\Seen."""
        with self.imap() as m:
            m.select("INBOX", readonly=True)
            _, data = m.uid("SEARCH", None, "HEADER", "Message-ID", f'"{message_id}"')
            uids = data[0].split() if data and data[0] else []
            flags = []
            for uid in uids:
                _, got = m.uid("FETCH", uid, "(FLAGS)")
                flags.append(b"\\Seen" in got[0])
            return flags

    def unseen(self) -> int:
        with self.imap() as m:
            m.select("INBOX", readonly=True)
            _, data = m.search(None, "UNSEEN")
            return len(data[0].split()) if data and data[0] else 0
