"""A small PKI for etcd in kubespray's certificate layout, made with openssl.

kubespray keeps etcd's files in /etc/ssl/etcd/ssl on every etcd node:
  ca.pem, ca-key.pem                    the cluster CA
  member-<host>.pem, member-<host>-key.pem   server and peer certificate of the member
  admin-<host>.pem, admin-<host>-key.pem     client certificate for etcdctl and tooling
  node-<host>.pem, node-<host>-key.pem       client certificate for the API server
The lab writes one such folder per host, plus a client folder for the controller.
"""
import os
import subprocess
import tempfile

DAYS = "3650"
CERT_DIR_ON_HOST = "/etc/ssl/etcd/ssl"


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _new_key(key_path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key_path)
    os.chmod(key_path, 0o600)


def make_ca(ca_dir, common_name="etcd-ca"):
    """Create ca.pem/ca-key.pem in ca_dir unless they exist; return their paths."""
    os.makedirs(ca_dir, exist_ok=True)
    ca_cert = os.path.join(ca_dir, "ca.pem")
    ca_key = os.path.join(ca_dir, "ca-key.pem")
    if not (os.path.exists(ca_cert) and os.path.exists(ca_key)):
        _new_key(ca_key)
        _openssl("req", "-x509", "-new", "-key", ca_key, "-out", ca_cert, "-days", DAYS,
                 "-subj", "/CN=" + common_name,
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return ca_cert, ca_key


def issue(ca_dir, cert_path, key_path, common_name, ips=(), dns_names=(), server=True):
    """Issue a certificate signed by the CA in ca_dir (client auth always, server auth if asked)."""
    ca_cert, ca_key = make_ca(ca_dir)
    _new_key(key_path)
    usages = "serverAuth,clientAuth" if server else "clientAuth"
    alt_names = ["IP:" + ip for ip in ips] + ["DNS:" + name for name in dns_names]
    with tempfile.TemporaryDirectory() as work:
        csr = os.path.join(work, "req.csr")
        ext = os.path.join(work, "ext.cnf")
        with open(ext, "w") as handle:
            handle.write("basicConstraints=CA:FALSE\n")
            handle.write("keyUsage=critical,digitalSignature,keyEncipherment\n")
            handle.write("extendedKeyUsage=%s\n" % usages)
            if alt_names:
                handle.write("subjectAltName=%s\n" % ",".join(alt_names))
        _openssl("req", "-new", "-key", key_path, "-out", csr, "-subj", "/CN=" + common_name)
        _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
                 "-out", cert_path, "-days", DAYS, "-extfile", ext)
    return cert_path, key_path


def make_host_certs(ca_dir, host_dir, host, ip):
    """Write a kubespray-style folder for one etcd host (member, admin and node certificates),
    readable by root only, as kubespray's etcd_cert_dir."""
    os.makedirs(host_dir, exist_ok=True)
    os.chmod(host_dir, 0o700)
    ca_cert, _ = make_ca(ca_dir)
    with open(ca_cert) as src, open(os.path.join(host_dir, "ca.pem"), "w") as dst:
        dst.write(src.read())
    server_ips = (ip, "127.0.0.1")
    server_names = (host, "localhost")
    issue(ca_dir, os.path.join(host_dir, "member-%s.pem" % host),
          os.path.join(host_dir, "member-%s-key.pem" % host), host, server_ips, server_names)
    for role in ("admin", "node"):
        issue(ca_dir, os.path.join(host_dir, "%s-%s.pem" % (role, host)),
              os.path.join(host_dir, "%s-%s-key.pem" % (role, host)),
              "%s-%s" % (role, host), server=False)
    return host_dir


def make_client_cert(ca_dir, client_dir, name="admin-controller"):
    """A client certificate for the controller (lab writer, monitor, tests)."""
    os.makedirs(client_dir, exist_ok=True)
    ca_cert, _ = make_ca(ca_dir)
    cert, key = issue(ca_dir, os.path.join(client_dir, name + ".pem"),
                      os.path.join(client_dir, name + "-key.pem"), name, server=False)
    return {"ca": ca_cert, "cert": cert, "key": key}
