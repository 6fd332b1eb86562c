"""Unit tests for the kernel_status module: read-only results and failure paths."""
import ast
import os

import pytest

from module_harness import FakeCommands, run_module

from ansible_collections.sre.etcd_kernel.plugins.modules import kernel_status

DPKG_ARGV = ["/usr/bin/dpkg-query", "-W", "-f", "${Package}\\t${Status}\\n", "linux-*"]
APT_ARGV = ["/usr/bin/apt-cache", "pkgnames", "linux-"]
READ_ONLY_ARGVS = [DPKG_ARGV, APT_ARGV]


def dpkg_output(*rows):
    return "".join("%s\t%s\n" % row for row in rows)


# A 20.04 host on the bad kernel: 131 still installed, 132 running, meta package
# installed, an old kernel removed with its config left behind.
AFFECTED_HOST_DPKG = dpkg_output(
    ("linux-image-5.4.0-131-generic", "install ok installed"),
    ("linux-image-5.4.0-132-generic", "install ok installed"),
    ("linux-image-5.4.0-126-generic", "deinstall ok config-files"),
    ("linux-image-generic", "install ok installed"),
    ("linux-image-unsigned-5.4.0-132-generic", "unknown ok not-installed"),
)
APT_PKGNAMES = "\n".join([
    "linux-image-5.4.0-137-generic",
    "linux-image-generic",
    "linux-image-5.4.0-133-generic",
    "linux-image-unsigned-5.4.0-137-generic",
    "linux-image-5.4.0-135-generic",
    "linux-image-5.4.0-132-generic",
    "linux-image-5.4.0-131-generic",
    "linux-image-5.4.0-1093-aws",
    "linux-image-5.15.0-56-generic",
    "linux-image-generic-hwe-20.04",
    "linux-image-5.4.0-137-generic-dbgsym",
]) + "\n"


@pytest.fixture
def osrelease(tmp_path):
    """Write a simulated running release and return the path, as the lab does."""
    def write(content):
        path = tmp_path / "osrelease"
        path.write_text(content)
        return str(path)
    return write


@pytest.fixture(autouse=True)
def no_reboot_flag(tmp_path, monkeypatch):
    # Never look at the test machine's own /var/run.
    flag = tmp_path / "reboot-required"
    monkeypatch.setattr(kernel_status, "REBOOT_REQUIRED_FLAG", str(flag))
    return flag


@pytest.fixture(autouse=True)
def no_host_grub_defaults(tmp_path, monkeypatch):
    # Nor at its own /etc/default/grub: without grub_default_path the tests read none.
    missing = tmp_path / "no-grub-defaults" / "grub"
    monkeypatch.setattr(kernel_status, "GRUB_DEFAULTS_PATH", str(missing))
    return missing


@pytest.fixture
def grub_defaults(tmp_path):
    """Write <tmp>/default/grub and <tmp>/default/grub.d/<name> files; return the grub path."""
    directory = tmp_path / "default"
    directory.mkdir()
    grub_path = directory / "grub"

    def write(grub=None, **drop_ins):
        if grub is not None:
            grub_path.write_text(grub)
        if drop_ins:
            (directory / "grub.d").mkdir(exist_ok=True)
            for name, text in drop_ins.items():
                (directory / "grub.d" / name).write_text(text)
        return str(grub_path)
    return write


def host_commands(dpkg=AFFECTED_HOST_DPKG, apt=APT_PKGNAMES, dpkg_rc=0, dpkg_stderr="", apt_rc=0, apt_stderr=""):
    return FakeCommands({
        "dpkg-query": (dpkg_rc, dpkg, dpkg_stderr),
        "apt-cache": (apt_rc, apt, apt_stderr),
    })


def run(monkeypatch, args, commands=None):
    return run_module(kernel_status.main, args, commands or host_commands())


# --- success paths ---------------------------------------------------------

def test_affected_host(monkeypatch, osrelease):
    commands = host_commands()
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic\n")}, commands)

    assert outcome == "exit"
    assert result["changed"] is False
    assert result["running_release"] == "5.4.0-132-generic"
    assert result["running"] == {"release": "5.4.0-132-generic", "upstream": "5.4.0", "abi": 132, "flavour": "generic"}
    assert result["affected"] is True
    assert result["status"] == "affected"
    assert result["remediation_needed"] is True
    assert result["reason"].startswith("5.4.0-132-generic is in the affected range 5.4.0-132..134 (LP#1996678")
    assert result["installed_releases"] == ["5.4.0-131-generic", "5.4.0-132-generic"]
    assert result["available_releases"] == [
        "5.4.0-131-generic", "5.4.0-132-generic", "5.4.0-133-generic", "5.4.0-135-generic",
        "5.4.0-137-generic", "5.4.0-1093-aws", "5.15.0-56-generic"]
    assert result["fixed_release_available"] == "5.4.0-137-generic"
    assert result["target_release"] == "5.4.0-137-generic"
    assert result["target_pinned"] is False
    assert result["target_offered"] is True
    assert result["target_installed"] is False
    assert result["newest_installed_release"] == "5.4.0-132-generic"
    assert result["reboot_required"] is False
    assert result["reboot_required_reason"] == ""
    assert result["boot_loader_default"] == "0"  # no grub files: GRUB_DEFAULT unset
    assert result["boot_warnings"] == []


def test_only_read_only_commands_run_with_c_locale(monkeypatch, osrelease):
    commands = host_commands()
    run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic")}, commands)

    assert commands.argvs == READ_ONLY_ARGVS
    for _argv, kwargs in commands.calls:
        assert kwargs["environ_update"] == {"LC_ALL": "C"}
        assert kwargs["check_rc"] is False


def test_check_mode_gives_the_same_result_and_runs_the_same_read_only_commands(monkeypatch, osrelease):
    path = osrelease("5.4.0-132-generic")
    normal_commands, check_commands = host_commands(), host_commands()

    normal = run(monkeypatch, {"osrelease_path": path}, normal_commands)
    checked = run(monkeypatch, {"osrelease_path": path, "_ansible_check_mode": True}, check_commands)

    assert checked == normal
    assert checked[1]["changed"] is False
    assert check_commands.argvs == READ_ONLY_ARGVS


def test_fixed_host_after_reboot(monkeypatch, osrelease):
    dpkg = dpkg_output(
        ("linux-image-5.4.0-132-generic", "install ok installed"),
        ("linux-image-5.4.0-137-generic", "install ok installed"),
    )
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-137-generic")}, host_commands(dpkg=dpkg))

    assert outcome == "exit"
    assert result["changed"] is False
    assert result["affected"] is False
    assert result["status"] == "fixed"
    assert result["remediation_needed"] is False
    assert "at or above the fix" in result["reason"]
    assert result["fixed_release_available"] is None  # nothing newer than 137 offered
    assert result["target_release"] is None
    assert result["target_installed"] is False
    assert result["reboot_required"] is False


def test_fixed_kernel_installed_but_not_yet_booted(monkeypatch, osrelease):
    dpkg = dpkg_output(
        ("linux-image-5.4.0-132-generic", "install ok installed"),
        ("linux-image-5.4.0-137-generic", "hold ok installed"),  # held kernels count
        ("linux-image-5.4.0-1093-aws", "install ok installed"),  # another flavour: not a target
    )
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic")}, host_commands(dpkg=dpkg))

    assert outcome == "exit"
    assert result["installed_releases"] == ["5.4.0-132-generic", "5.4.0-137-generic", "5.4.0-1093-aws"]
    assert result["affected"] is True
    assert result["target_release"] == "5.4.0-137-generic"
    assert result["target_installed"] is True
    assert result["newest_installed_release"] == "5.4.0-137-generic"
    assert result["reboot_required"] is True
    assert result["reboot_required_reason"] == "5.4.0-137-generic is installed but 5.4.0-132-generic is running"


def test_reboot_flag_file_means_reboot_required(monkeypatch, osrelease, no_reboot_flag):
    no_reboot_flag.write_text("*** System restart required ***\n")
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic")})

    assert outcome == "exit"
    assert result["reboot_required"] is True
    assert result["reboot_required_reason"] == "%s exists" % no_reboot_flag


def test_no_fixed_release_offered(monkeypatch, osrelease):
    apt = "linux-image-5.4.0-132-generic\nlinux-image-5.4.0-133-generic\n"
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic")}, host_commands(apt=apt))

    assert outcome == "exit"
    assert result["affected"] is True
    assert result["fixed_release_available"] is None
    assert result["target_release"] is None
    assert result["target_offered"] is False
    assert result["target_installed"] is False


def test_no_kernel_package_installed(monkeypatch, osrelease):
    # dpkg-query exits 1 when the pattern matches nothing at all.
    commands = host_commands(dpkg="", dpkg_rc=1, dpkg_stderr="dpkg-query: no packages found matching linux-image-*\n")
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic")}, commands)

    assert outcome == "exit"
    assert result["installed_releases"] == []
    assert result["newest_installed_release"] is None
    assert result["reboot_required"] is False


def test_pinned_target(monkeypatch, osrelease):
    args = {"osrelease_path": osrelease("5.4.0-132-generic"), "target_release": "5.4.0-135-generic"}
    outcome, result = run(monkeypatch, args)

    assert outcome == "exit"
    assert result["target_release"] == "5.4.0-135-generic"
    assert result["target_pinned"] is True
    assert result["target_offered"] is True
    assert result["fixed_release_available"] == "5.4.0-137-generic"


def test_pinned_target_need_not_be_offered(monkeypatch, osrelease):
    args = {"osrelease_path": osrelease("5.4.0-132-generic"), "target_release": "5.4.0-136-generic"}
    outcome, result = run(monkeypatch, args)

    assert outcome == "exit"
    assert result["target_release"] == "5.4.0-136-generic"
    assert result["target_offered"] is False


def test_custom_affected_ranges_are_typed_and_used(monkeypatch, osrelease):
    ranges = [
        {"upstream": "5.4.0", "from_abi": "132", "fixed_abi": "135", "reference": "LP#1996678"},
        {"upstream": "5.4.0", "from_abi": 136, "fixed_abi": 138, "flavours": ["generic"], "reference": "INC-1"},
    ]
    args = {"osrelease_path": osrelease("5.4.0-132-generic"), "affected_ranges": ranges}
    outcome, result = run(monkeypatch, args)

    assert outcome == "exit"
    assert result["affected"] is True
    assert result["fixed_release_available"] == "5.4.0-135-generic"  # 137 is in the custom range


def test_an_operator_range_widens_the_built_in_one(monkeypatch, osrelease):
    # 132..137 is added to the built-in 132..134: 135 is affected and 137 no target.
    ranges = [{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 138, "reference": "INC-9"}]
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-135-generic"), "affected_ranges": ranges})

    assert outcome == "exit"
    assert result["status"] == "affected"
    assert result["affected"] is True
    assert result["reason"] == "5.4.0-135-generic is in the affected range 5.4.0-132..137 (INC-9); fixed from 5.4.0-138-generic"
    assert result["fixed_release_available"] is None
    assert result["target_release"] is None


def test_an_empty_range_list_keeps_the_built_in_range(monkeypatch, osrelease):
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "affected_ranges": []})

    assert outcome == "exit"
    assert result["status"] == "affected"


def test_a_predating_kernel_is_unaffected(monkeypatch, osrelease):
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-131-generic")})

    assert outcome == "exit"
    assert result["status"] == "unaffected"
    assert result["affected"] is False
    assert "predates 5.4.0-132..134" in result["reason"]


AWS_HOST_DPKG = dpkg_output(("linux-image-5.4.0-1093-aws", "install ok installed"))
AWS_APT = "linux-image-5.4.0-1093-aws\nlinux-image-5.4.0-1094-aws\nlinux-image-5.4.0-1100-aws\nlinux-image-5.4.0-137-generic\n"
AWS_RANGE = {"upstream": "5.4.0", "from_abi": 1090, "fixed_abi": 1094, "flavours": ["aws"], "reference": "INC-7"}


def test_a_cloud_kernel_without_a_range_is_unknown_and_gets_no_target(monkeypatch, osrelease):
    commands = host_commands(dpkg=AWS_HOST_DPKG, apt=AWS_APT)
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-1093-aws")}, commands)

    assert outcome == "exit"
    assert result["status"] == "unknown"
    assert result["affected"] is False
    assert result["remediation_needed"] is False
    assert "no known range for flavour aws; " in result["reason"]
    assert result["reason"].endswith("add one via etcd_kernel_affected_ranges")
    assert result["fixed_release_available"] is None
    assert result["target_release"] is None


def test_a_cloud_kernel_with_an_operator_range(monkeypatch, osrelease):
    commands = host_commands(dpkg=AWS_HOST_DPKG, apt=AWS_APT)
    args = {"osrelease_path": osrelease("5.4.0-1093-aws"), "affected_ranges": [AWS_RANGE]}
    outcome, result = run(monkeypatch, args, commands)

    assert outcome == "exit"
    assert result["status"] == "affected"
    assert result["affected"] is True
    assert result["reason"] == "5.4.0-1093-aws is in the affected range 5.4.0-1090..1093 [aws] (INC-7); fixed from 5.4.0-1094-aws"
    assert result["target_release"] == "5.4.0-1100-aws"


def test_a_later_cloud_kernel_with_an_operator_range_is_fixed(monkeypatch, osrelease):
    commands = host_commands(dpkg=AWS_HOST_DPKG, apt=AWS_APT)
    args = {"osrelease_path": osrelease("5.4.0-1094-aws"), "affected_ranges": [AWS_RANGE]}
    outcome, result = run(monkeypatch, args, commands)

    assert outcome == "exit"
    assert result["status"] == "fixed"
    assert result["affected"] is False
    assert result["target_release"] == "5.4.0-1100-aws"


def test_an_operator_range_may_carry_sources(monkeypatch, osrelease):
    ranges = [dict(AWS_RANGE, sources=["https://example.invalid/INC-7"])]
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-1093-aws"), "affected_ranges": ranges})

    assert outcome == "exit"
    assert result["status"] == "affected"


# --- boot loader -------------------------------------------------------------

STOCK_GRUB = """\
# If you change this file, run 'update-grub' afterwards to update
GRUB_DEFAULT=0
GRUB_TIMEOUT_STYLE=hidden
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"
GRUB_CMDLINE_LINUX=""
"""
PINNED_TITLE = "Advanced options for Ubuntu>Ubuntu, with Linux 5.4.0-132-generic"


def test_stock_grub_defaults_give_no_warnings(monkeypatch, osrelease, grub_defaults):
    args = {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": grub_defaults(STOCK_GRUB)}
    outcome, result = run(monkeypatch, args)

    assert outcome == "exit"
    assert result["boot_loader_default"] == "0"
    assert result["boot_warnings"] == []


def test_a_pinned_title_is_a_warning_that_says_where(monkeypatch, osrelease, grub_defaults):
    path = grub_defaults(STOCK_GRUB.replace("GRUB_DEFAULT=0", 'GRUB_DEFAULT="%s"' % PINNED_TITLE))
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": path})

    assert outcome == "exit"
    assert result["boot_loader_default"] == PINNED_TITLE
    assert result["boot_warnings"] == [
        "GRUB_DEFAULT is pinned to '%s' in %s line 2: the host may boot that entry instead of 5.4.0-137-generic; "
        "set GRUB_DEFAULT=0 and run update-grub, or pin the target's entry, before remediating" % (PINNED_TITLE, path)
    ]


def test_grub_d_files_are_read_sorted_after_the_defaults_file(monkeypatch, osrelease, grub_defaults):
    path = grub_defaults("GRUB_DEFAULT='1>2'\n", **{
        "90-saved.cfg": "export GRUB_DEFAULT=saved\n",
        "50-cloudimg-settings.cfg": "GRUB_DEFAULT=0\nGRUB_TIMEOUT=0\n",
        "95-not-a-cfg.bak": "GRUB_DEFAULT=3\n",  # update-grub only sources *.cfg
        ".99-hidden.cfg": "GRUB_DEFAULT=4\n",  # nor hidden files
    })
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": path})

    assert outcome == "exit"
    assert result["boot_loader_default"] == "saved"
    assert len(result["boot_warnings"]) == 1
    assert result["boot_warnings"][0].startswith(
        "GRUB_DEFAULT=saved in %s.d/90-saved.cfg line 1: grub boots the entry last stored by grub-set-default, "
        "grub-reboot or GRUB_SAVEDEFAULT=true" % path)


def test_grub_d_is_read_without_a_defaults_file(monkeypatch, osrelease, grub_defaults):
    path = grub_defaults(**{"10-pin.cfg": "GRUB_DEFAULT=2\n"})
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": path})

    assert outcome == "exit"
    assert result["boot_loader_default"] == "2"
    assert len(result["boot_warnings"]) == 1


def test_a_newer_installed_kernel_than_the_pinned_target_is_a_warning(monkeypatch, osrelease, grub_defaults):
    dpkg = dpkg_output(
        ("linux-image-5.4.0-132-generic", "install ok installed"),
        ("linux-image-5.4.0-137-generic", "install ok installed"),
    )
    args = {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": grub_defaults(STOCK_GRUB),
            "target_release": "5.4.0-135-generic"}
    outcome, result = run(monkeypatch, args, host_commands(dpkg=dpkg))

    assert outcome == "exit"
    assert result["boot_warnings"] == [
        "5.4.0-137-generic is installed and newer than the target 5.4.0-135-generic: grub boots the newest, so the "
        "host would come back on it and the kit would stop after the reboot; pin etcd_kernel_target_release to "
        "5.4.0-137-generic or remove it"
    ]


def test_no_target_means_no_boot_warnings(monkeypatch, osrelease, grub_defaults):
    args = {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": grub_defaults("GRUB_DEFAULT=saved\n")}
    outcome, result = run(monkeypatch, args, host_commands(apt="linux-image-5.4.0-132-generic\n"))

    assert outcome == "exit"
    assert result["target_release"] is None
    assert result["boot_loader_default"] == "saved"
    assert result["boot_warnings"] == []


def test_the_default_grub_path_is_etc_default_grub():
    import yaml

    documented = yaml.safe_load(kernel_status.DOCUMENTATION)["options"]["grub_default_path"]
    assert documented["default"] == "/etc/default/grub"


# --- failure paths ---------------------------------------------------------

def test_an_unreadable_grub_defaults_file_fails_clearly(monkeypatch, osrelease, grub_defaults):
    path = grub_defaults()
    os.mkdir(path)  # reading a directory fails even for root, unlike a chmod
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": path})

    assert outcome == "fail"
    assert result["msg"].startswith("Cannot read %s (" % path)
    assert "which update-grub sources for GRUB_DEFAULT" in result["msg"]
    assert "set grub_default_path" in result["msg"]
    assert result["grub_default_path"] == path


def test_an_unreadable_grub_d_file_fails_clearly(monkeypatch, osrelease, grub_defaults):
    path = grub_defaults(STOCK_GRUB, **{"40-ok.cfg": ""})
    os.mkdir(path + ".d/50-dir.cfg")
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": path})

    assert outcome == "fail"
    assert result["msg"].startswith("Cannot read %s.d/50-dir.cfg (" % path)


def test_a_grub_d_that_is_not_a_directory_counts_as_missing(monkeypatch, osrelease, grub_defaults):
    path = grub_defaults(STOCK_GRUB)
    with open(path + ".d", "w") as stray:
        stray.write("GRUB_DEFAULT=1\n")
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": path})

    assert outcome == "exit"
    assert result["boot_loader_default"] == "0"


def test_an_unclosed_quote_in_grub_defaults_fails_clearly(monkeypatch, osrelease, grub_defaults):
    path = grub_defaults('GRUB_DEFAULT="1>2\n')
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "grub_default_path": path})

    assert outcome == "fail"
    assert result["msg"] == (
        "Cannot tell which kernel the host would boot after the reboot: %s line 1: the double quote is never "
        "closed; the shell update-grub runs would reject this file too, so fix it (and run update-grub) before "
        "remediating." % path)


def test_missing_osrelease_file(monkeypatch, tmp_path):
    missing = str(tmp_path / "no-such-osrelease")
    commands = host_commands()
    outcome, result = run(monkeypatch, {"osrelease_path": missing}, commands)

    assert outcome == "fail"
    assert missing in result["msg"]
    assert "osrelease_path" in result["msg"]
    assert "/proc/sys/kernel/osrelease" in result["msg"]
    assert commands.calls == []


def test_garbage_running_release(monkeypatch, osrelease):
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("not-a-kernel\n")})

    assert outcome == "fail"
    assert "is not an Ubuntu kernel release" in result["msg"]
    assert "5.4.0-132-generic" in result["msg"]  # shows what a release looks like
    assert 'the file holds 13 bytes: "not-a-kernel"; a release looks like' in result["msg"]
    assert result["osrelease_excerpt"] == "not-a-kernel" and result["osrelease_size"] == 13


def test_empty_osrelease_file(monkeypatch, osrelease):
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("")})

    assert outcome == "fail"
    assert "is not an Ubuntu kernel release: the file is empty;" in result["msg"]
    assert result["osrelease_size"] == 0


def test_dpkg_query_failure_carries_rc_stdout_stderr(monkeypatch, osrelease):
    commands = host_commands(dpkg="partial\n", dpkg_rc=2, dpkg_stderr="dpkg-query: error: parsing file '/var/lib/dpkg/status'\n")
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic")}, commands)

    assert outcome == "fail"
    assert result["rc"] == 2
    assert result["stdout"] == "partial\n"
    assert result["stderr"].startswith("dpkg-query: error")
    assert result["cmd"] == DPKG_ARGV
    assert "failed with rc 2" in result["msg"]
    assert "dpkg --audit" in result["msg"]


def test_apt_cache_failure_carries_rc_stdout_stderr(monkeypatch, osrelease):
    commands = host_commands(apt="", apt_rc=100, apt_stderr="E: The package cache file is corrupted\n")
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic")}, commands)

    assert outcome == "fail"
    assert result["rc"] == 100
    assert result["stderr"] == "E: The package cache file is corrupted\n"
    assert result["cmd"] == APT_ARGV
    assert "never runs apt-get update" in result["msg"]


def test_pinned_target_affected(monkeypatch, osrelease):
    args = {"osrelease_path": osrelease("5.4.0-132-generic"), "target_release": "5.4.0-134-generic"}
    outcome, result = run(monkeypatch, args)

    assert outcome == "fail"
    assert "5.4.0-134-generic is in the affected range 5.4.0-132..134 (LP#1996678" in result["msg"]
    assert "pin 5.4.0-135-generic or newer" in result["msg"]
    assert "or unset target_release to use the newest fixed release offered, 5.4.0-137-generic" in result["msg"]
    assert result["fixed_release_available"] == "5.4.0-137-generic"


def test_pinned_cloud_target_without_a_range(monkeypatch, osrelease):
    commands = host_commands(dpkg=AWS_HOST_DPKG, apt=AWS_APT)
    args = {"osrelease_path": osrelease("5.4.0-1093-aws"), "target_release": "5.4.0-1100-aws"}
    outcome, result = run(monkeypatch, args, commands)

    assert outcome == "fail"
    assert "pinned target 5.4.0-1100-aws cannot be judged: no known range for flavour aws" in result["msg"]


def test_full_width_running_release_is_refused(monkeypatch, osrelease):
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("\uff15.\uff14.\uff10-\uff11\uff13\uff12-generic\n")})

    assert outcome == "fail"
    assert "is not an Ubuntu kernel release" in result["msg"]


def test_absurd_running_release_is_refused_with_a_short_message(monkeypatch, osrelease):
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-" + "1" * 5000 + "-generic\n")})

    assert outcome == "fail"
    assert 'the file holds 5015 bytes (a release is under 100), starting "5.4.0-%s..."' % ("1" * 58) in result["msg"]
    assert len(result["msg"]) < 600


def test_a_longer_abi_than_any_release_has_is_refused(monkeypatch, osrelease):
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-1234567-generic\n")})

    assert outcome == "fail"
    assert 'the file holds 22 bytes: "5.4.0-1234567-generic"' in result["msg"]


# --- osrelease_path at a file that is not a release: only a short, sanitised excerpt --------------

# Built up, so that no source file holds a key's header.
PEM_KEY = ("-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretsecretsecret\n"
           "-----END RSA " + "PRIVATE KEY-----\n")


@pytest.mark.parametrize("content", [
    PEM_KEY,
    PEM_KEY.replace("RSA ", "OPENSSH "),
    "-----BEGIN CERTIFICATE-----\nMIIDsecretsecretsecret\n",
    "PuTTY-User-Key-File-3: ssh-rsa\nPrivate-Lines: 14\nAAAAsecretsecretsecret\n",
    "token: secretsecretsecret\n# not a private key, really\n",
])
def test_a_key_file_is_named_and_none_of_it_is_shown(monkeypatch, osrelease, content):
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease(content)})

    assert outcome == "fail"
    assert ("the file holds %d bytes that look like a PEM file or a private key, so none of it is shown"
            % len(content)) in result["msg"]
    assert result["osrelease_excerpt"] is None and result["osrelease_size"] == len(content)
    assert "secret" not in repr(result) and "BEGIN" not in repr(result)


def test_the_excerpt_is_short_and_printable_ascii(monkeypatch, tmp_path):
    path = tmp_path / "osrelease"
    path.write_bytes(b"\x1b]0;owned\x07caf\xc3\xa9\x00" + b"x" * 300 + b"\n")
    outcome, result = run(monkeypatch, {"osrelease_path": str(path)})

    assert outcome == "fail"
    assert result["osrelease_excerpt"] == "?]0;owned?caf???" + "x" * 48 + "..."
    assert result["osrelease_size"] == 317
    assert all(" " <= character <= "~" for character in result["msg"])


def test_at_most_4_kb_of_the_file_is_read(monkeypatch):
    # /dev/zero never ends: reading all of it would never return.
    outcome, result = run(monkeypatch, {"osrelease_path": "/dev/zero"})

    assert outcome == "fail"
    assert "the file holds 4097 bytes (a release is under 100)" in result["msg"]
    assert result["osrelease_excerpt"] == "?" * 64 + "..."


def test_a_blank_file_says_so(monkeypatch, osrelease):
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease(" \n\n")})

    assert outcome == "fail"
    assert "the file holds 3 bytes, all blank" in result["msg"] and result["osrelease_excerpt"] == ""


def test_pinned_target_of_another_flavour(monkeypatch, osrelease):
    args = {"osrelease_path": osrelease("5.4.0-132-generic"), "target_release": "5.4.0-1093-aws"}
    outcome, result = run(monkeypatch, args)

    assert outcome == "fail"
    assert "not of the running kernel's series and flavour" in result["msg"]


def test_pinned_target_older_than_running(monkeypatch, osrelease):
    args = {"osrelease_path": osrelease("5.4.0-137-generic"), "target_release": "5.4.0-135-generic"}
    outcome, result = run(monkeypatch, args)

    assert outcome == "fail"
    assert "older than the running 5.4.0-137-generic" in result["msg"]


def test_malformed_pin_when_nothing_fixed_is_offered(monkeypatch, osrelease):
    args = {"osrelease_path": osrelease("5.4.0-132-generic"), "target_release": "5.4.0-135"}
    outcome, result = run(monkeypatch, args, host_commands(apt="linux-image-5.4.0-132-generic\n"))

    assert outcome == "fail"
    assert "pinned target is malformed" in result["msg"]
    assert "apt offers no fixed release of this series and flavour right now" in result["msg"]


def test_bad_affected_range(monkeypatch, osrelease):
    ranges = [{"upstream": "5.4.0", "from_abi": 135, "fixed_abi": 132}]
    commands = host_commands()
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "affected_ranges": ranges}, commands)

    assert outcome == "fail"
    assert result["msg"].startswith("affected_ranges is invalid: affected range #0: from_abi (135) must be lower")
    assert commands.calls == []


def test_affected_range_missing_a_key_is_caught_by_the_argument_spec(monkeypatch, osrelease):
    ranges = [{"upstream": "5.4.0", "from_abi": 132}]
    outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic"), "affected_ranges": ranges})

    assert outcome == "fail"
    assert "fixed_abi" in result["msg"]


# --- documentation and portability -----------------------------------------

def test_operator_ranges_default_to_none_added():
    import yaml

    # The built-in ranges always apply; the option only adds to them.
    documentation = yaml.safe_load(kernel_status.DOCUMENTATION)
    documented = documentation["options"]["affected_ranges"]
    assert documented["default"] == []
    assert "added to the built-in ones" in " ".join(documented["description"])


def test_documented_statuses_are_the_verdicts():
    import yaml

    from ansible_collections.sre.etcd_kernel.plugins.module_utils.kernel_release import VERDICTS

    documented = yaml.safe_load(kernel_status.RETURN)["status"]
    assert sorted(documented["choices"]) == sorted(VERDICTS)


def test_every_returned_key_is_documented(monkeypatch, osrelease):
    import yaml

    documented = yaml.safe_load(kernel_status.RETURN)
    _outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic")})
    assert set(result) == set(documented)
    for key, doc in documented.items():
        assert {"description", "returned", "type", "sample"} <= set(doc), key


def test_module_source_is_python_3_8_syntax():
    with open(kernel_status.__file__) as source:
        ast.parse(source.read(), feature_version=(3, 8))


# --- the package set the target needs ----------------------------------------

SPLIT_KERNEL_DPKG = dpkg_output(
    ("linux-image-5.4.0-132-generic", "install ok installed"),
    ("linux-modules-5.4.0-132-generic", "install ok installed"),
    ("linux-modules-extra-5.4.0-132-generic", "install ok installed"),
    ("linux-headers-5.4.0-132", "install ok installed"),
    ("linux-headers-5.4.0-132-generic", "install ok installed"),
    ("linux-modules-extra-5.4.0-126-generic", "deinstall ok config-files"),
    ("linux-image-generic", "install ok installed"),
)


def test_the_target_needs_every_package_the_running_release_has(monkeypatch, osrelease):
    apt = "\n".join(["linux-image-5.4.0-137-generic", "linux-modules-5.4.0-137-generic",
                     "linux-modules-extra-5.4.0-137-generic", "linux-headers-5.4.0-137-generic",
                     "linux-headers-5.4.0-137"]) + "\n"
    _outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic\n")},
                           host_commands(dpkg=SPLIT_KERNEL_DPKG, apt=apt))
    assert result["running_packages"] == [
        "linux-image-5.4.0-132-generic", "linux-headers-5.4.0-132-generic", "linux-modules-5.4.0-132-generic",
        "linux-modules-extra-5.4.0-132-generic"]
    assert result["target_packages"] == [
        "linux-image-5.4.0-137-generic", "linux-headers-5.4.0-137-generic", "linux-modules-5.4.0-137-generic",
        "linux-modules-extra-5.4.0-137-generic"]
    assert result["target_packages_missing"] == []


def test_a_target_without_its_modules_extra_is_reported_incomplete(monkeypatch, osrelease):
    apt = "linux-image-5.4.0-137-generic\nlinux-modules-5.4.0-137-generic\nlinux-headers-5.4.0-137-generic\n"
    _outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-132-generic\n")},
                           host_commands(dpkg=SPLIT_KERNEL_DPKG, apt=apt))
    assert result["target_release"] == "5.4.0-137-generic"
    assert result["target_packages_missing"] == ["linux-modules-extra-5.4.0-137-generic"]


def test_no_target_needs_no_packages(monkeypatch, osrelease):
    _outcome, result = run(monkeypatch, {"osrelease_path": osrelease("5.4.0-1093-aws\n")},
                           host_commands(dpkg=SPLIT_KERNEL_DPKG))
    assert result["target_release"] is None
    assert result["target_packages"] == [] and result["target_packages_missing"] == []
