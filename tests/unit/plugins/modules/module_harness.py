"""The one harness for the kit's module tests: run a module's main() in-process, the way
Ansible's own unit tests do.

exit_json/fail_json raise instead of exiting, module arguments are injected
without stdin, and run_command is replaced by a fake that answers from canned
outputs and records every argv, so tests can assert exactly what ran. The result
goes through JSON, as it does on its way to a playbook.
"""
import contextlib
import json
from unittest.mock import patch

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

try:  # ansible-core 2.19+ ships the helper; 2.17 does not.
    from ansible.module_utils.testing import patch_module_args
except ImportError:
    patch_module_args = None


class AnsibleExitJson(Exception):
    """Raised in place of exit_json; .result holds the module result."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class AnsibleFailJson(Exception):
    """Raised in place of fail_json; .result holds the module result."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


def _exit_json(module, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def _fail_json(module, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(kwargs)


class FakeCommands(object):
    """Stand-in for AnsibleModule.run_command.

    responses maps a program name (argv[0] without its directory, e.g.
    "dpkg-query") to (rc, stdout, stderr), or to a function of the argv that returns
    them (for a program whose answer changes between calls). Every call is recorded in .calls as
    (argv, kwargs); a program without a response fails the test.
    """

    def __init__(self, responses):
        self.responses = responses
        self.calls = []

    def __call__(self, args, **kwargs):
        self.calls.append((list(args), kwargs))
        program = args[0].rsplit("/", 1)[-1]
        if program not in self.responses:
            raise AssertionError("unexpected command: %r" % (args,))
        response = self.responses[program]
        return response(list(args)) if callable(response) else response

    @property
    def argvs(self):
        return [argv for argv, _kwargs in self.calls]


def _fake_get_bin_path(module, name, required=False, opt_dirs=None):
    return "/usr/bin/" + name


@contextlib.contextmanager
def _module_args(args):
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    previous = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = previous


def run_module(main, args, commands=None, check_mode=False):
    """Run main() with args; return (outcome, result), outcome "exit" or "fail".

    commands: a FakeCommands for the programs the module may run (none by default).
    """
    commands = FakeCommands({}) if commands is None else commands
    args = dict(args, _ansible_check_mode=True) if check_mode else args

    def fake_run_command(module, argv, **kwargs):
        return commands(argv, **kwargs)

    with patch.object(basic.AnsibleModule, "exit_json", _exit_json), \
            patch.object(basic.AnsibleModule, "fail_json", _fail_json), \
            patch.object(basic.AnsibleModule, "run_command", fake_run_command), \
            patch.object(basic.AnsibleModule, "get_bin_path", _fake_get_bin_path), \
            _module_args(args):
        try:
            main()
        except AnsibleExitJson as done:
            return "exit", json.loads(json.dumps(done.result))
        except AnsibleFailJson as failed:
            return "fail", json.loads(json.dumps(failed.result))
    raise AssertionError("the module returned without calling exit_json or fail_json")
