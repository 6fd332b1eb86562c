"""What a host's files say about its etcd member: kubespray's units and etcd.env, kubeadm's manifest."""
import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_node_files import (
    KUBEADM_MANIFEST, KUBESPRAY_ENV_FILE, default_route_device, first_ipv4, loopback_client_url, observe_events_member,
    observe_member,
    parse_env_file, parse_manifest_flags)

# kubespray's etcd-docker.service.j2 and etcd.j2 (docker layout), rendered for etcd2.
KUBESPRAY_DOCKER_UNIT = """\
[Unit]
Description=etcd docker wrapper
Wants=docker.socket
After=docker.service

[Service]
User=root
PermissionsStartOnly=true
EnvironmentFile=-/etc/environment
ExecStart=/usr/local/bin/etcd
ExecStartPre=-/usr/bin/docker rm -f etcd2
ExecStop=/usr/bin/docker stop etcd2
Restart=always
RestartSec=15s
TimeoutStartSec=30s

[Install]
WantedBy=multi-user.target
"""
KUBESPRAY_DOCKER_WRAPPER = """\
#!/bin/bash
/usr/bin/docker run \\
  --restart=on-failure:5 \\
  --env-file=/etc/etcd.env \\
  --net=host \\
  -v /etc/ssl/certs:/etc/ssl/certs:ro \\
  -v /etc/ssl/etcd/ssl:/etc/ssl/etcd/ssl:ro \\
  -v /var/lib/etcd:/var/lib/etcd:rw \\
  --memory=512M \\
  --blkio-weight=1000 \\
  --name=etcd2 \\
  quay.io/coreos/etcd:v3.4.13 \\
  /usr/local/bin/etcd \\
  "$@"
"""
# kubespray's etcd-host.service.j2 (host layout).
KUBESPRAY_HOST_UNIT = """\
[Unit]
Description=etcd
After=network.target

[Service]
Type=notify
User=root
EnvironmentFile=/etc/etcd.env
ExecStart=/usr/local/bin/etcd
NotifyAccess=all
Restart=always
RestartSec=10s
LimitNOFILE=40000

[Install]
WantedBy=multi-user.target
"""
KUBESPRAY_ENV = """\
# Environment file for etcd v3.4.13
ETCD_DATA_DIR=/var/lib/etcd
ETCD_ADVERTISE_CLIENT_URLS=https://10.0.0.12:2379
ETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.12:2380
ETCD_INITIAL_CLUSTER_STATE=existing
ETCD_METRICS=basic
ETCD_LISTEN_CLIENT_URLS=https://10.0.0.12:2379,https://127.0.0.1:2379
ETCD_ELECTION_TIMEOUT=5000
ETCD_HEARTBEAT_INTERVAL=250
ETCD_INITIAL_CLUSTER_TOKEN=k8s_etcd
ETCD_LISTEN_PEER_URLS=https://10.0.0.12:2380
ETCD_NAME=etcd2
ETCD_PROXY=off
ETCD_INITIAL_CLUSTER=etcd1=https://10.0.0.11:2380,etcd2=https://10.0.0.12:2380,etcd3=https://10.0.0.13:2380
"""
# kubeadm's static pod for etcd (kubeadm init phase etcd local), trimmed to the command.
KUBEADM_ETCD_MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.21:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://10.0.0.21:2380
    - --initial-cluster=cp-1=https://10.0.0.21:2380
    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.21:2379
    - --listen-metrics-urls=http://127.0.0.1:2381
    - --listen-peer-urls=https://10.0.0.21:2380
    - --name=cp-1
    image: registry.k8s.io/etcd:3.5.9-0
    name: etcd
"""


def reader(files):
    return files.get


def test_kubesprays_docker_layout_names_the_member_and_its_container():
    observed = observe_member(reader({"/etc/systemd/system/etcd.service": KUBESPRAY_DOCKER_UNIT,
                                      "/usr/local/bin/etcd": KUBESPRAY_DOCKER_WRAPPER,
                                      KUBESPRAY_ENV_FILE: KUBESPRAY_ENV}))
    assert observed["layout"] == "docker" and observed["container"] == "etcd2"
    assert observed["member_name"] == "etcd2" and observed["name_source"] == "/etc/etcd.env (ETCD_NAME)"
    assert observed["advertise_client_urls"] == ["https://10.0.0.12:2379"]
    assert observed["local_client_url"] == "https://127.0.0.1:2379"
    assert observed["data_dir"] == "/var/lib/etcd" and observed["service"] == "etcd"
    assert observed["files"] == ["/etc/systemd/system/etcd.service", KUBESPRAY_ENV_FILE]
    assert observed["problems"] == []


def test_a_docker_wrapper_alone_names_the_container():
    unit = KUBESPRAY_DOCKER_UNIT.replace("ExecStartPre=-/usr/bin/docker rm -f etcd2\n", "").replace(
        "ExecStop=/usr/bin/docker stop etcd2\n", "")
    observed = observe_member(reader({"/etc/systemd/system/etcd.service": unit,
                                      "/usr/local/bin/etcd": KUBESPRAY_DOCKER_WRAPPER,
                                      KUBESPRAY_ENV_FILE: KUBESPRAY_ENV}))
    assert (observed["layout"], observed["container"]) == ("docker", "etcd2")


def test_kubesprays_host_layout_runs_the_binary():
    observed = observe_member(reader({"/etc/systemd/system/etcd.service": KUBESPRAY_HOST_UNIT,
                                      "/usr/local/bin/etcd": "\x7fELF\x02\x01\x01 binary",
                                      KUBESPRAY_ENV_FILE: KUBESPRAY_ENV}))
    assert observed["layout"] == "host" and observed["container"] is None
    assert observed["member_name"] == "etcd2" and observed["problems"] == []


def test_a_unit_from_the_package_is_found_under_lib():
    observed = observe_member(reader({"/lib/systemd/system/etcd.service": KUBESPRAY_HOST_UNIT,
                                      KUBESPRAY_ENV_FILE: KUBESPRAY_ENV}))
    assert observed["layout"] == "host" and observed["files"][0] == "/lib/systemd/system/etcd.service"


def test_a_masked_unit_hides_the_packages_unit_and_the_host_runs_no_member():
    # systemctl mask links /etc/systemd/system/etcd.service to /dev/null, which reads empty.
    observed = observe_member(reader({"/etc/systemd/system/etcd.service": "",
                                      "/lib/systemd/system/etcd.service": KUBESPRAY_HOST_UNIT,
                                      KUBESPRAY_ENV_FILE: KUBESPRAY_ENV}))
    assert observed["layout"] is None and observed["member_name"] is None
    assert "runs no etcd member" in observed["problems"][0]
    assert observe_events_member(reader({"/etc/systemd/system/etcd-events.service": "\n"})) is None


def test_kubeadm_names_the_member_after_the_node_in_its_manifest():
    observed = observe_member(reader({KUBEADM_MANIFEST: KUBEADM_ETCD_MANIFEST}))
    assert observed["layout"] == "kubeadm" and observed["member_name"] == "cp-1"
    assert observed["container"] == "etcd" and observed["service"] is None
    assert observed["name_source"] == "%s (--name)" % KUBEADM_MANIFEST
    assert observed["advertise_client_urls"] == ["https://10.0.0.21:2379"]
    assert observed["local_client_url"] == "https://127.0.0.1:2379"
    assert observed["problems"] == []


@pytest.mark.parametrize("files, problem", [
    ({}, "neither an etcd unit"),
    ({"/etc/systemd/system/etcd.service": KUBESPRAY_HOST_UNIT}, "/etc/etcd.env is missing"),
    ({"/etc/systemd/system/etcd.service": KUBESPRAY_HOST_UNIT, KUBESPRAY_ENV_FILE: "ETCD_DATA_DIR=/var/lib/etcd\n"},
     "/etc/etcd.env (ETCD_NAME) does not name the member"),
    ({"/etc/systemd/system/etcd.service": KUBESPRAY_HOST_UNIT, KUBESPRAY_ENV_FILE: KUBESPRAY_ENV,
      KUBEADM_MANIFEST: KUBEADM_ETCD_MANIFEST}, "both /etc/systemd/system/etcd.service and"),
    ({KUBEADM_MANIFEST: KUBEADM_ETCD_MANIFEST.replace("    - --name=cp-1\n", "")}, "does not name the member"),
])
def test_a_host_whose_files_do_not_tell_the_member_says_why(files, problem):
    observed = observe_member(reader(files))
    assert observed["member_name"] is None or observed["layout"] is None
    assert len(observed["problems"]) == 1 and problem in observed["problems"][0], observed["problems"]


def test_the_env_file_is_read_as_systemd_reads_it():
    assert parse_env_file('# comment\nETCD_NAME="etcd1"\n  export ETCD_X=\'y\'\nnot a line\nA=b=c\n') == {
        "ETCD_NAME": "etcd1", "ETCD_X": "y", "A": "b=c"}


def test_manifest_flags_keep_the_first_of_a_repeated_flag():
    assert parse_manifest_flags("    - --name=a\n    - '--name=b'\n    - \"--data-dir=/x\"\n") == {
        "name": "a", "data-dir": "/x"}


@pytest.mark.parametrize("urls, expected", [
    (["https://10.0.0.1:2379", "https://127.0.0.1:2379"], "https://127.0.0.1:2379"),
    (["https://[::1]:2379/"], "https://[::1]:2379"),
    (["https://10.0.0.1:2379"], None),
    ([], None),
])
def test_the_loopback_client_url_is_found_among_the_listen_urls(urls, expected):
    assert loopback_client_url(urls) == expected


def test_the_default_ipv4_address_is_the_default_routes_device_address():
    assert default_route_device("default via 10.0.0.1 dev ens3 proto dhcp src 10.0.0.11 metric 100\n") == "ens3"
    assert default_route_device("10.0.0.0/24 dev ens3 proto kernel scope link\n") is None
    assert default_route_device("") is None
    assert first_ipv4("2: ens3    inet 10.0.0.11/24 brd 10.0.0.255 scope global ens3\\       valid_lft forever\n"
                      "2: ens3    inet 10.0.0.99/24 scope global secondary ens3\n") == "10.0.0.11"
    assert first_ipv4("") is None


KUBESPRAY_EVENTS_ENV = KUBESPRAY_ENV.replace("ETCD_NAME=etcd2", "ETCD_NAME=etcd2-events").replace(
    "10.0.0.12:2379", "10.0.0.12:2383").replace("127.0.0.1:2379", "127.0.0.1:2383").replace(
    "/var/lib/etcd\n", "/var/lib/etcd-events\n")
# kubespray's etcd-events-docker.service.j2, rendered for etcd2.
KUBESPRAY_EVENTS_DOCKER_UNIT = KUBESPRAY_DOCKER_UNIT.replace("etcd2", "etcd2-events").replace(
    "ExecStart=/usr/local/bin/etcd", "ExecStart=/usr/local/bin/etcd-events").replace(
    "EnvironmentFile=-/etc/environment", "EnvironmentFile=-/etc/etcd-events.env")


def test_kubesprays_events_member_is_read_from_its_own_unit_and_env_file():
    events = observe_events_member(reader({"/etc/systemd/system/etcd-events.service": KUBESPRAY_EVENTS_DOCKER_UNIT,
                                           "/etc/etcd-events.env": KUBESPRAY_EVENTS_ENV}))
    assert (events["layout"], events["container"], events["service"]) == ("docker", "etcd2-events", "etcd-events")
    assert events["member_name"] == "etcd2-events" and events["name_source"] == "/etc/etcd-events.env (ETCD_NAME)"
    assert events["local_client_url"] == "https://127.0.0.1:2383"
    assert events["advertise_client_urls"] == ["https://10.0.0.12:2383"] and events["problems"] == []


def test_a_host_without_an_events_unit_has_no_events_member():
    assert observe_events_member(reader({KUBEADM_MANIFEST: KUBEADM_ETCD_MANIFEST})) is None
    assert observe_events_member(reader({"/etc/systemd/system/etcd.service": KUBESPRAY_HOST_UNIT})) is None
