"""vsftpd real servers and FTP clients (curl, lftp) for the end-to-end tests.

Each real server's FTP root holds `whoami` (its name), a listing marker file named after it, and
the shared test file; its transfer log (xferlog) records every file it served. A data connection
that reached the wrong server would fail (nobody listens there) or show the other server's
listing.
"""

import os
import shutil

# Data-connection modes and the client options that select them.
CURL_MODES = {
    "PASV": ["--ftp-pasv", "--disable-epsv"],
    "EPSV": ["--ftp-pasv"],
    "PORT": ["--ftp-port", "-", "--disable-eprt"],
    "EPRT": ["--ftp-port", "-"],
}
LFTP_MODES = {
    "PASV": "set ftp:passive-mode on; set ftp:prefer-epsv no;",
    "EPSV": "set ftp:passive-mode on; set ftp:prefer-epsv yes;",
    "PORT": "set ftp:passive-mode off;",
    # lftp sends EPRT only for IPv6 data connections: there is no IPv4 EPRT mode to select.
}
PASSIVE_PORTS = (10000, 10100)


def start_vsftpd(lab, namespace, name, files, pasv_address=None, write=False):
    """Runs vsftpd (anonymous, passive range 10000-10100, active from port 20) in `namespace`.
    Returns (process, xferlog path, root directory)."""
    base = os.path.join(lab.tmp, f"ftp-{name}")
    root = os.path.join(base, "root")
    os.makedirs(root, exist_ok=True)
    empty = os.path.join(base, "empty")
    os.makedirs(empty, exist_ok=True)
    os.chmod(base, 0o755)
    os.chmod(root, 0o755)
    with open(os.path.join(root, "whoami"), "w") as f:
        f.write(f"{name}\n")
    open(os.path.join(root, f"served-by-{name}"), "w").close()
    for rel, src in files.items():
        try:
            os.link(src, os.path.join(root, rel))  # no copy of a large file
        except OSError:
            shutil.copyfile(src, os.path.join(root, rel))
    upload = os.path.join(root, "upload")
    if write:
        os.makedirs(upload, exist_ok=True)
        shutil.chown(upload, "ftp", "ftp")
    xferlog = os.path.join(base, "xferlog")
    conf = os.path.join(base, "vsftpd.conf")
    lines = [
        "listen=YES", "listen_ipv6=NO", "background=NO",
        "anonymous_enable=YES", "no_anon_password=YES", "local_enable=NO",
        f"anon_root={root}", f"secure_chroot_dir={empty}",
        "dirlist_enable=YES", "download_enable=YES",
        f"write_enable={'YES' if write else 'NO'}",
        f"anon_upload_enable={'YES' if write else 'NO'}",
        "anon_umask=022",
        "pasv_enable=YES", f"pasv_min_port={PASSIVE_PORTS[0]}", f"pasv_max_port={PASSIVE_PORTS[1]}",
        "port_enable=YES", "connect_from_port_20=YES",
        # Namespaces are our isolation; vsftpd's own would need capabilities we do not grant.
        "seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO",
        "xferlog_enable=YES", "xferlog_std_format=YES", f"xferlog_file={xferlog}",
        "idle_session_timeout=120", "data_connection_timeout=120",
    ]
    if pasv_address:
        lines.append(f"pasv_address={pasv_address}")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    p = lab.spawn(namespace, "vsftpd", conf, log=os.path.join(base, "vsftpd.out"))
    lab.wait_for_port(namespace, 21)
    return p, xferlog, root


def served(xferlog):
    """What a server's xferlog says it transferred: (client address, 'o' sent / 'i' received,
    path) per file."""
    if not os.path.exists(xferlog):
        return []
    out = []
    with open(xferlog) as f:
        for line in f:
            # weekday month day time year, seconds, client, bytes, path, type, action, direction
            parts = line.split()
            if len(parts) >= 12:
                out.append((parts[6], parts[11], parts[8]))
    return out


def curl_get(lab, namespace, vip, mode, path, out, timeout=120, source=None):
    bind = ["--interface", source] if source else []
    return lab.run(namespace, "curl", "-sS", "--max-time", str(timeout), *bind,
                   *CURL_MODES[mode], f"ftp://{vip}/{path}", "-o", out, check=False,
                   timeout=timeout + 30)


def curl_get_command(namespace, vip, mode, path, out, source, timeout=120):
    """The argv of a curl download, for running several at once."""
    return ["ip", "netns", "exec", namespace, "curl", "-sS", "--max-time", str(timeout),
            "--interface", source, *CURL_MODES[mode], f"ftp://{vip}/{path}", "-o", out]


def lftp_get_command(namespace, vip, mode, path, out, source, timeout=120):
    script = (f"set net:timeout 10; set net:max-retries 1; set cmd:fail-exit yes; "
              f"set net:socket-bind-ipv4 {source}; {LFTP_MODES[mode]} "
              f"get {path} -o {out}; bye")
    return ["ip", "netns", "exec", namespace, "lftp", "-e", script, f"ftp://anonymous:@{vip}"]


def curl_list(lab, namespace, vip, mode, timeout=30):
    return lab.run(namespace, "curl", "-sS", "--max-time", str(timeout), *CURL_MODES[mode],
                   f"ftp://{vip}/", check=False, timeout=timeout + 30)


def lftp_session(lab, namespace, vip, mode, commands, timeout=120):
    script = (f"set net:timeout 10; set net:max-retries 1; set cmd:fail-exit yes; "
              f"{LFTP_MODES[mode]} {commands}; bye")
    return lab.run(namespace, "lftp", "-e", script, f"ftp://anonymous:@{vip}", check=False,
                   timeout=timeout)
