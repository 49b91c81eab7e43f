"""A real OpenSSH server on 127.0.0.1 with a test-owned config, keys and authorized_keys."""

from __future__ import annotations

import getpass
import os
import subprocess
from pathlib import Path

from tests.conftest import free_port, wait_until_listening


class SshServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.user = getpass.getuser()
        self.host_key = folder / "host_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)],
                       check=True)  # fmt: skip
        self.authorized_keys = folder / "authorized_keys"
        self.authorized_keys.touch()
        self.known_hosts = folder / "known_hosts"
        public = (folder / "host_key.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n")
        config = folder / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
            f"PidFile {folder / 'sshd.pid'}\nLogLevel ERROR\nAllowUsers {self.user}\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation folder
        self._log = (folder / "sshd.log").open("wb")
        self.proc = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        wait_until_listening(self.port, self.proc, (folder / "sshd.log").read_text)

    def cut(self) -> None:
        """Drop every open connection too (sshd's per-connection children), then stop."""
        subprocess.run(["pkill", "-KILL", "-P", str(self.proc.pid)], check=False)
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self._log.close()

    def ssh(self, key: Path, *command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ssh", "-p", str(self.port), "-i", str(key), "-o", "BatchMode=yes",
             "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
             "-o", "StrictHostKeyChecking=yes", f"{self.user}@127.0.0.1", *command],
            capture_output=True, text=True, timeout=30, check=False, env={**os.environ},
        )  # fmt: skip
