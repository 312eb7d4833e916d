"""``dockyard registry serve`` options: TLS, read-only mode, JSON access logs; and the account
commands' exit codes and messages."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.unit.registry.harness import Api, error_codes, running_registry, sha256


def self_signed(folder: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


def test_tls_read_only_and_access_log(tmp_path: Path) -> None:
    storage = str(tmp_path / "store")
    with running_registry(storage) as server:
        digest, _ = Api(server.url).push_image(f"ro{os.getpid()}/app", "v1")
    cert, key = self_signed(tmp_path)
    import tests.unit.registry.harness as h

    server = h.RegistryServer(storage, extra=["--tls-cert", cert, "--tls-key", key, "--read-only"])
    try:
        server.start()
        url = server.url
        assert url.startswith("https://")
        r = requests.get(f"{url}/v2/ro{os.getpid()}/app/manifests/{digest}", verify=cert, timeout=10)
        assert r.status_code == 200
        layer = r.json()["layers"][0]["digest"]
        blob = requests.get(f"{url}/v2/ro{os.getpid()}/app/blobs/{layer}", verify=cert, timeout=10)
        assert blob.status_code == 200 and sha256(blob.content) == layer
        r = requests.post(f"{url}/v2/ro{os.getpid()}/app/blobs/uploads/", verify=cert, timeout=10)
        assert r.status_code == 405
        assert "UNSUPPORTED" in error_codes(r)
        assert "read-only" in r.json()["errors"][0]["message"]
        r = requests.delete(f"{url}/v2/ro{os.getpid()}/app/manifests/{digest}", verify=cert, timeout=10)
        assert r.status_code == 405
        server.stop()
        lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        posts = [e for e in lines if e["method"] == "POST"]
        assert posts and posts[-1]["status"] == 405 and posts[-1]["path"].endswith("/blobs/uploads/")
        assert {"remote", "ms", "bytes", "user_agent"} <= set(posts[-1])
    finally:
        server.close()


def test_account_commands(tmp_path: Path) -> None:
    with running_registry(str(tmp_path / "store"), auth=True) as server:
        server.add_user("erin", "erin-pass-12")
        again = server.admin("user", "add", "erin", "--password-stdin", input="erin-pass-12\n")
        assert again.returncode == 1
        assert "exists already" in again.stderr
        short = server.admin("user", "add", "frank", "--password-stdin", input="short\n")
        assert short.returncode == 1 and "shorter than 8" in short.stderr
        assert (
            server.admin("user", "passwd", "erin", "--password-stdin", input="erin-pass-34\n").returncode == 0
        )
        assert Api(server.url, ("erin", "erin-pass-12")).get("/v2/").status_code == 401
        assert Api(server.url, ("erin", "erin-pass-34")).get("/v2/").status_code == 200
        missing = server.admin("team", "add", "noorg", "dev")
        assert missing.returncode == 1 and "no organization 'noorg'" in missing.stderr
        assert server.admin("user", "rm", "erin").returncode == 0
        assert Api(server.url, ("erin", "erin-pass-34")).get("/v2/").status_code == 401
        assert "erin" not in server.admin("user", "ls").stdout
