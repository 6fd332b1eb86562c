"""The few docker CLI calls the lab makes, with errors that say what failed."""
import json
import subprocess

from lab.config import LabError


def docker(*args, check=True, input=None, timeout=300):
    try:
        result = subprocess.run(["docker", *args], capture_output=True, text=True,
                                input=input, timeout=timeout)
    except FileNotFoundError as error:
        raise LabError("the docker CLI is not installed; run 'make setup'") from error
    except subprocess.TimeoutExpired as error:
        raise LabError("'docker %s' did not finish within %ss" % (" ".join(args[:3]), timeout)) from error
    if check and result.returncode != 0:
        raise LabError("'docker %s' failed (rc=%d): %s"
                       % (" ".join(args), result.returncode, result.stderr.strip()))
    return result


def engine_answers():
    return docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=20).returncode == 0


def require_engine():
    if not engine_answers():
        raise LabError("no Docker engine answers; run 'make setup' (it starts dockerd as root)")


def inspect(name, kind="container"):
    """docker inspect of one object, or None when it does not exist."""
    result = docker(kind, "inspect", name, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)[0]


def image_exists(tag):
    return docker("image", "inspect", tag, check=False).returncode == 0


def is_running(name):
    info = inspect(name)
    return bool(info and info["State"]["Running"])


def exec_in(container, *command, check=True, timeout=120):
    return docker("exec", container, *command, check=check, timeout=timeout)
