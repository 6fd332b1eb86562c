"""The packages of one kernel release, and the same set for the target release."""
from ansible_collections.sre.etcd_kernel.plugins.module_utils.kernel_packages import (
    missing_packages, release_packages, target_packages)

INSTALLED = [
    "linux-headers-5.4.0-132", "linux-headers-5.4.0-132-generic", "linux-image-5.4.0-131-generic",
    "linux-image-5.4.0-132-generic", "linux-modules-5.4.0-132-generic", "linux-modules-extra-5.4.0-132-generic",
    "linux-image-generic", "linux-generic", "linux-tools-5.4.0-132-generic", "linux-image-5.4.0-132-generic-dbgsym",
    "-5.4.0-132-generic", "",
]


def test_the_running_release_set_is_every_package_built_for_it_image_first():
    assert release_packages(INSTALLED, "5.4.0-132-generic") == [
        "linux-image-5.4.0-132-generic", "linux-headers-5.4.0-132-generic", "linux-modules-5.4.0-132-generic",
        "linux-modules-extra-5.4.0-132-generic", "linux-tools-5.4.0-132-generic"]


def test_another_flavour_or_release_is_not_in_the_set():
    assert release_packages(["linux-image-5.4.0-132-generic-lpae", "linux-image-5.4.0-1320-generic",
                             "linux-image-5.4.0-132-lowlatency"], "5.4.0-132-generic") == []


def test_the_target_set_renames_the_running_set():
    running = release_packages(INSTALLED, "5.4.0-132-generic")
    assert target_packages(running, "5.4.0-132-generic", "5.4.0-136-generic") == [
        "linux-image-5.4.0-136-generic", "linux-headers-5.4.0-136-generic", "linux-modules-5.4.0-136-generic",
        "linux-modules-extra-5.4.0-136-generic", "linux-tools-5.4.0-136-generic"]


def test_a_host_without_dpkg_records_of_its_kernel_still_gets_the_image():
    assert target_packages([], "5.4.0-132-generic", "5.4.0-136-generic") == ["linux-image-5.4.0-136-generic"]


def test_missing_packages_keep_their_order():
    wanted = ["linux-image-5.4.0-136-generic", "linux-modules-5.4.0-136-generic",
              "linux-modules-extra-5.4.0-136-generic"]
    assert missing_packages(wanted, ["linux-modules-5.4.0-136-generic", "linux-image-5.4.0-136-generic"]) == [
        "linux-modules-extra-5.4.0-136-generic"]
    assert missing_packages(wanted, wanted) == []


def test_debian_sets_are_the_image_and_the_headers_where_installed():
    # Debian's modules are inside the image; headers-<abi>-common comes with the headers.
    installed = ["linux-image-6.1.0-56-amd64", "linux-headers-6.1.0-56-amd64", "linux-headers-6.1.0-56-common",
                 "linux-kbuild-6.1", "linux-image-amd64", "linux-base"]
    running = release_packages(installed, "6.1.0-56-amd64")
    assert running == ["linux-image-6.1.0-56-amd64", "linux-headers-6.1.0-56-amd64"]
    assert target_packages(running, "6.1.0-56-amd64", "6.1.0-57-amd64") == [
        "linux-image-6.1.0-57-amd64", "linux-headers-6.1.0-57-amd64"]
    assert target_packages(["linux-image-6.1.0-56-amd64"], "6.1.0-56-amd64", "6.1.0-57-amd64") == [
        "linux-image-6.1.0-57-amd64"]
