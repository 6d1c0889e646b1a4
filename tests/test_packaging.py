"""The wheel carries the page and the client: build it, install it in a fresh venv, serve from there."""

import email
import subprocess
import sys
import urllib.request
import venv
import zipfile

import pytest

from support import ROOT, ServerProcess, free_port


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from the checkout."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    (built,) = dist.glob("chatserver-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh venv with only the built wheel (and its dependencies) installed; return its python."""
    work = tmp_path_factory.mktemp("packaging")
    venv.create(work / "venv", with_pip=True)
    python = work / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    return python


def test_wheel_metadata_carries_the_mit_license(wheel):
    """The LICENSE file ships in the wheel's dist-info and its METADATA names it."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        assert email.message_from_bytes(archive.read(metadata)).get_all("License-File") == ["LICENSE"]
        (license_name,) = [name for name in names if ".dist-info/" in name and name.endswith("/LICENSE")]
        text = archive.read(license_name).decode()
    assert text == (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 The chatserver authors" in text


def test_wheel_contains_templates_and_static(installed):
    code = ("import chatserver.views as v, pathlib; p = pathlib.Path(v.__file__).parent; "
            "print((p/'templates/chatserver/index.html').is_file(), (p/'static/vendor/socket.io.min.js').is_file())")
    result = subprocess.run([str(installed), "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert result.stdout.split() == ["True", "True"]


def test_installed_server_serves_page_and_client_script(installed, tmp_path):
    port = free_port()
    command = [str(installed.parent / "chatserver"), "--host", "127.0.0.1", "--port", str(port)]
    # cwd outside the checkout, so nothing can be found there by accident.
    with ServerProcess(command, port, cwd=tmp_path, log_dir=tmp_path) as server:
        with urllib.request.urlopen(server.url + "/") as page:
            html = page.read().decode()
        assert "/static/chatserver/chat.js" in html
        with urllib.request.urlopen(server.url + "/static/chatserver/vendor/socket.io.min.js") as script:
            assert b"Socket.IO" in script.read()
        # Every file of the checkout's static folder is served (favicon.svg was once left out).
        for path in sorted((ROOT / "static").rglob("*")):
            if path.is_file():
                name = path.relative_to(ROOT / "static").as_posix()
                with urllib.request.urlopen(f"{server.url}/static/chatserver/{name}") as response:
                    assert response.read() == path.read_bytes(), name
