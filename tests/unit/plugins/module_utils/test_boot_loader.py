"""Unit tests for module_utils/boot_loader.py: GRUB_DEFAULT and whether the host boots the target."""
import ast
import re

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils import boot_loader
from ansible_collections.sre.etcd_kernel.plugins.module_utils.boot_loader import (
    InvalidGrubDefaults,
    boot_warnings,
    grub_default,
    grub_default_assignment,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.kernel_release import InvalidKernelRelease

RUNNING = "5.4.0-132-generic"
TARGET = "5.4.0-136-generic"
PINNED_TITLE = "Advanced options for Ubuntu>Ubuntu, with Linux 5.4.0-132-generic"

# Ubuntu 20.04's stock /etc/default/grub, abridged.
STOCK_GRUB = """\
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
# For full documentation of the options in this file, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT_STYLE=hidden
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"
GRUB_CMDLINE_LINUX=""

# Uncomment to disable graphical terminal (grub-pc only)
#GRUB_TERMINAL=console
"""


# --- grub_default -----------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    (STOCK_GRUB, "0"),
    ("GRUB_DEFAULT=0\n", "0"),
    ("GRUB_DEFAULT=2\n", "2"),
    ("GRUB_DEFAULT=saved\n", "saved"),
    ('GRUB_DEFAULT="1>2"\n', "1>2"),
    ("GRUB_DEFAULT='1>2'\n", "1>2"),
    ('GRUB_DEFAULT="%s"\n' % PINNED_TITLE, PINNED_TITLE),
    ("GRUB_DEFAULT='%s'\n" % PINNED_TITLE, PINNED_TITLE),
    # Quoted parts join into one word, as in sh.
    ('GRUB_DEFAULT="Advanced options for Ubuntu>"\'Ubuntu, with Linux 5.4.0-132-generic\'\n', PINNED_TITLE),
    ('GRUB_DEFAULT="say \\"hi\\" \\\\ \\$HOME"\n', 'say "hi" \\ $HOME'),
    ("GRUB_DEFAULT='no \\escapes in single quotes'\n", "no \\escapes in single quotes"),
    ("GRUB_DEFAULT=with\\ space\n", "with space"),
    ("export GRUB_DEFAULT=saved\n", "saved"),
    ("  \texport   GRUB_DEFAULT=1\n", "1"),
    ("readonly GRUB_DEFAULT=1\n", "1"),
    ("GRUB_DEFAULT=1 # pinned for INC-42\n", "1"),
    ("GRUB_DEFAULT=a#b\n", "a#b"),  # # starts a comment only at the start of a word
    ("GRUB_DEFAULT=1; GRUB_TIMEOUT=5\n", "1"),
    ("GRUB_TIMEOUT=5 GRUB_DEFAULT=1\n", "1"),
    ("GRUB_DEFAULT=\\\n1\n", "1"),  # a line continuation
    ("if [ -e /etc/pin ]; then\n  GRUB_DEFAULT=1\nfi\n", "1"),  # conditions are taken as true
    ("GRUB_DEFAULT=$PIN\n", "$PIN"),  # expansions are kept as written
    ("GRUB_DEFAULT=$(cat /etc/pin)\n", "$(cat /etc/pin)"),
    ("GRUB_DEFAULT=${PIN:-0}\n", "${PIN:-0}"),
    ("GRUB_DEFAULT=`cat /etc/pin`\n", "`cat /etc/pin`"),
    ("GRUB_DEFAULT=1>2\n", "1"),  # unquoted, sh assigns 1 and redirects to a file named 2
    ("GRUB_DEFAULT=\n", "0"),  # empty means 0 to grub-mkconfig
    ('GRUB_DEFAULT=""\n', "0"),
    ("GRUB_DEFAULT=1\nGRUB_DEFAULT=2\n", "2"),
    ("GRUB_DEFAULT=1\nunset GRUB_DEFAULT\n", "0"),
    ("GRUB_DEFAULT=1", "1"),  # no final newline
])
def test_grub_default_reads_shell_assignments(text, value):
    assert grub_default([text]) == value


@pytest.mark.parametrize("text", [
    "",
    "# GRUB_DEFAULT=1\n",
    "#GRUB_DEFAULT=saved\n",
    "   # GRUB_DEFAULT=1\n",
    "GRUB_TIMEOUT=5\n",
    "MY_GRUB_DEFAULT=1\n",
    "GRUB_DEFAULTS=1\n",
    'GRUB_CMDLINE_LINUX="GRUB_DEFAULT=1"\n',
    '"GRUB_DEFAULT"=1\n',  # a quoted name is a command, not an assignment
    "GRUB_DEFAULT=1 true\n",  # sets it for that command only
    "export GRUB_DEFAULT\n",
    "echo GRUB_DEFAULT=1\n",
])
def test_grub_default_ignores_what_does_not_assign_it(text):
    assert grub_default([text]) == "0"


def test_grub_default_is_0_when_there_are_no_files():
    assert grub_default([]) == "0"


def test_grub_d_files_override_the_defaults_file_in_order():
    assert grub_default([STOCK_GRUB, "GRUB_DEFAULT=saved\n"]) == "saved"
    assert grub_default(["GRUB_DEFAULT=saved\n", "GRUB_DEFAULT=0\n"]) == "0"
    assert grub_default(["GRUB_DEFAULT=1\n", "GRUB_TIMEOUT=3\n", "# GRUB_DEFAULT=2\n"]) == "1"
    assert grub_default(["GRUB_DEFAULT=1\n", "GRUB_DEFAULT=2\n", "GRUB_DEFAULT=3\n"]) == "3"


def test_grub_default_assignment_says_where_it_is_set():
    sources = [
        ("/etc/default/grub", STOCK_GRUB),
        ("/etc/default/grub.d/50-cloudimg-settings.cfg", "GRUB_TIMEOUT=0\n"),
        ("/etc/default/grub.d/90-pin.cfg", "# INC-42\n\nexport GRUB_DEFAULT='1>2'\n"),
    ]
    assert grub_default_assignment(sources) == ("1>2", "/etc/default/grub.d/90-pin.cfg line 3")
    assert grub_default_assignment(sources[:2]) == ("0", "/etc/default/grub line 6")


def test_grub_default_assignment_line_counts_multi_line_values():
    text = "GRUB_TIMEOUT='a\nb'\nGRUB_X=\\\n1\nGRUB_DEFAULT=2\n"
    assert grub_default_assignment([("f", text)]) == ("2", "f line 5")


def test_grub_default_assignment_of_nothing():
    assert grub_default_assignment([]) == ("0", None)
    assert grub_default_assignment([("/etc/default/grub", "")]) == ("0", None)
    assert grub_default_assignment([("f", "GRUB_DEFAULT=1\nunset GRUB_DEFAULT\n")]) == ("0", None)


@pytest.mark.parametrize("text, line, what", [
    ('GRUB_DEFAULT="1>2\n', 1, "double quote"),
    ("GRUB_TIMEOUT=5\nGRUB_DEFAULT='1>2\n", 2, "single quote"),
    ("\n\nGRUB_DEFAULT=$(cat /x\n", 3, "$( command substitution"),
    ("GRUB_DEFAULT=${PIN\n", 1, "${ expansion"),
    ("GRUB_DEFAULT=`cat /x\n", 1, "backquoted command"),
])
def test_unclosed_quotes_are_refused_with_the_line(text, line, what):
    with pytest.raises(InvalidGrubDefaults) as raised:
        grub_default_assignment([("/etc/default/grub", text)])
    message = str(raised.value)
    assert message.startswith("/etc/default/grub line %d: the %s is never closed" % (line, what))
    assert "update-grub" in message
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("texts", [None, "GRUB_DEFAULT=1", b"GRUB_DEFAULT=1", 0, {"GRUB_DEFAULT": "1"}])
def test_grub_default_refuses_anything_but_a_list_of_texts(texts):
    with pytest.raises(ValueError, match="expected a list of grub defaults file contents"):
        grub_default(texts)


@pytest.mark.parametrize("text", [None, 0, b"GRUB_DEFAULT=1", ["GRUB_DEFAULT=1"]])
def test_grub_default_refuses_texts_that_are_not_strings(text):
    with pytest.raises(ValueError, match="grub defaults text #1 must be a string"):
        grub_default(["GRUB_DEFAULT=0\n", text])


@pytest.mark.parametrize("sources", [
    "GRUB_DEFAULT=1",
    [("only a name",)],
    [("/etc/default/grub", None)],
    [(None, "GRUB_DEFAULT=1")],
    ["GRUB_DEFAULT=1"],
])
def test_grub_default_assignment_refuses_malformed_sources(sources):
    with pytest.raises(ValueError, match=re.escape("(name, text)")):
        grub_default_assignment(sources)


def test_a_long_input_is_shown_cut_short_in_messages():
    with pytest.raises(ValueError) as raised:
        grub_default("GRUB_DEFAULT=" + "x" * 10000)  # one text, not a list of them
    assert "(10015 characters)" in str(raised.value)
    assert len(str(raised.value)) < 400


# --- boot_warnings ----------------------------------------------------------

INSTALLED = [RUNNING, "5.4.0-131-generic"]


@pytest.mark.parametrize("value", ["0", ""])
def test_no_warnings_when_grub_boots_the_newest_and_that_is_the_target(value):
    assert boot_warnings(value, RUNNING, INSTALLED + [TARGET], TARGET) == []


@pytest.mark.parametrize("value", [PINNED_TITLE, "1>2", "1", "gnulinux-advanced-abc>gnulinux-5.4.0-132-generic-advanced-abc",
                                   "$PIN"])
def test_a_pinned_default_is_a_warning(value):
    warnings = boot_warnings(value, RUNNING, INSTALLED, TARGET)
    assert warnings == [
        "GRUB_DEFAULT is pinned to %r in /etc/default/grub: the host may boot that entry instead of "
        "5.4.0-136-generic; set GRUB_DEFAULT=0 and run update-grub, or pin the target's entry, before "
        "remediating" % value
    ]


def test_a_long_pinned_default_is_shown_cut_short():
    warning = boot_warnings("x" * 10000, RUNNING, INSTALLED, TARGET)[0]
    assert "(10002 characters)" in warning
    assert len(warning) < 600


def test_a_pinned_default_names_where_it_is_set():
    warnings = boot_warnings("1>2", RUNNING, INSTALLED, TARGET, "/etc/default/grub.d/90-pin.cfg line 3")
    assert "pinned to '1>2' in /etc/default/grub.d/90-pin.cfg line 3: " in warnings[0]


@pytest.mark.parametrize("value", [
    "Advanced options for Ubuntu>Ubuntu, with Linux 5.4.0-136-generic",
    "Ubuntu, with Linux 5.4.0-136-generic",
    "Options avancées pour Ubuntu>Ubuntu, avec Linux 5.4.0-136-generic",  # translated titles
    "gnulinux-advanced-0b1c>gnulinux-5.4.0-136-generic-advanced-0b1c",
])
def test_pinning_the_targets_own_entry_is_fine(value):
    # The warning's own advice: the pin keeps grub on the target, newer kernels or not.
    assert boot_warnings(value, RUNNING, INSTALLED + ["5.4.0-137-generic"], TARGET) == []


@pytest.mark.parametrize("value", [
    "Advanced options for Ubuntu>Ubuntu, with Linux 5.4.0-136-generic (recovery mode)",
    "gnulinux-advanced-0b1c>gnulinux-5.4.0-136-generic-recovery-0b1c",
    "Advanced options for Ubuntu>Ubuntu, with Linux 5.4.0-136-generic-lpae",
    "Advanced options for Ubuntu>Ubuntu, with Linux 15.4.0-136-generic",
])
def test_pinning_another_entry_that_mentions_the_target_is_still_a_warning(value):
    warnings = boot_warnings(value, RUNNING, INSTALLED, TARGET)
    assert len(warnings) == 1 and warnings[0].startswith("GRUB_DEFAULT is pinned to")


def test_saved_is_a_warning_that_names_the_tools_that_save():
    warnings = boot_warnings("saved", RUNNING, INSTALLED, TARGET)
    assert len(warnings) == 1
    warning = warnings[0]
    assert warning.startswith("GRUB_DEFAULT=saved in /etc/default/grub: ")
    for words in ("grub-set-default", "grub-reboot", "GRUB_SAVEDEFAULT=true", "5.4.0-136-generic",
                  "run grub-set-default 0", "set GRUB_DEFAULT=0 and run update-grub", "before remediating"):
        assert words in warning


def test_a_newer_installed_kernel_of_the_same_line_is_a_warning():
    warnings = boot_warnings("0", RUNNING, INSTALLED + ["5.4.0-137-generic"], TARGET)
    assert warnings == [
        "5.4.0-137-generic is installed and newer than the target 5.4.0-136-generic: grub boots the newest, "
        "so the host would come back on it and the kit would stop after the reboot; pin "
        "etcd_kernel_target_release to 5.4.0-137-generic or remove it"
    ]


def test_several_newer_installed_kernels_name_the_one_grub_boots():
    installed = INSTALLED + ["5.4.0-140-generic", "5.4.0-137-generic", TARGET]
    warnings = boot_warnings("0", RUNNING, installed, TARGET)
    assert warnings == [
        "5.4.0-137-generic and 5.4.0-140-generic are installed and newer than the target 5.4.0-136-generic: "
        "grub boots the newest, so the host would come back on 5.4.0-140-generic and the kit would stop "
        "after the reboot; pin etcd_kernel_target_release to 5.4.0-140-generic or remove them"
    ]


def test_newer_is_numeric_not_textual():
    # 5.4.0-1000 sorts before 5.4.0-999 as text; grub and the kit order numerically.
    warnings = boot_warnings("0", "5.4.0-990-generic", ["5.4.0-1000-generic"], "5.4.0-999-generic")
    assert warnings[0].startswith("5.4.0-1000-generic is installed and newer than the target 5.4.0-999-generic")
    assert boot_warnings("0", "5.4.0-990-generic", ["5.4.0-999-generic"], "5.4.0-1000-generic") == []


@pytest.mark.parametrize("other_line", [
    "5.4.0-1093-aws",  # another flavour, its own ABI numbering
    "5.4.0-137-lowlatency",  # same numbering, but another flavour
    "5.15.0-56-generic",  # another series (HWE)
])
def test_newer_kernels_of_another_flavour_or_series_warn_too_since_grub_boots_the_highest_version(other_line):
    warnings = boot_warnings("0", RUNNING, INSTALLED + [TARGET, other_line], TARGET)
    assert len(warnings) == 1
    assert warnings[0].startswith("%s is installed and newer than the target %s" % (other_line, TARGET))


def test_older_installed_kernels_are_fine():
    assert boot_warnings("0", RUNNING, ["5.4.0-100-generic", "5.4.0-131-generic", RUNNING], TARGET) == []


@pytest.mark.parametrize("value", ["saved", PINNED_TITLE])
def test_a_default_warning_and_a_newer_kernel_warning_come_together(value):
    warnings = boot_warnings(value, RUNNING, INSTALLED + ["5.4.0-137-generic"], TARGET)
    assert len(warnings) == 2
    assert warnings[0].startswith("GRUB_DEFAULT")
    assert warnings[1].startswith("5.4.0-137-generic is installed and newer than the target")


@pytest.mark.parametrize("target", [None, ""])
def test_no_target_means_no_reboot_and_no_warnings(target):
    assert boot_warnings("saved", RUNNING, INSTALLED + ["5.4.0-137-generic"], target) == []


def test_a_target_that_is_already_running_needs_no_reboot_and_no_warnings():
    assert boot_warnings("saved", TARGET, [TARGET, "5.4.0-137-generic"], TARGET) == []


def test_boot_warnings_accepts_a_tuple_of_installed_releases():
    assert boot_warnings("0", RUNNING, tuple(INSTALLED), TARGET) == []


@pytest.mark.parametrize("value", [None, 0, b"0", ["0"]])
def test_boot_warnings_refuses_a_grub_default_that_is_not_a_string(value):
    with pytest.raises(ValueError, match="the GRUB_DEFAULT value must be a string"):
        boot_warnings(value, RUNNING, INSTALLED, TARGET)


@pytest.mark.parametrize("installed", [None, RUNNING, {RUNNING: True}, 5])
def test_boot_warnings_refuses_installed_releases_that_are_not_a_list(installed):
    with pytest.raises(ValueError, match="installed_releases must be a list of releases"):
        boot_warnings("0", RUNNING, installed, TARGET)


@pytest.mark.parametrize("running, installed, target", [
    ("not-a-kernel", INSTALLED, TARGET),
    (None, INSTALLED, TARGET),
    (RUNNING, INSTALLED + ["linux-image-5.4.0-137-generic"], TARGET),
    (RUNNING, INSTALLED + [137], TARGET),
    (RUNNING, INSTALLED, "5.4.0-136"),
    (RUNNING, INSTALLED, 136),
])
def test_boot_warnings_refuses_malformed_releases(running, installed, target):
    with pytest.raises(InvalidKernelRelease) as raised:
        boot_warnings("0", running, installed, target)
    assert "5.4.0-132-generic" in str(raised.value)  # shows what a release looks like
    assert isinstance(raised.value, ValueError)


def test_boot_warnings_refuses_malformed_releases_even_without_a_target():
    with pytest.raises(InvalidKernelRelease):
        boot_warnings("0", RUNNING, ["5.4.0"], None)


def test_boot_warnings_refuses_a_where_that_is_not_a_string():
    with pytest.raises(ValueError, match="grub_default_where must be a string"):
        boot_warnings("1", RUNNING, INSTALLED, TARGET, None)


# --- portability -------------------------------------------------------------

def test_module_utils_source_is_python_3_8_syntax():
    with open(boot_loader.__file__) as source:
        ast.parse(source.read(), feature_version=(3, 8))
