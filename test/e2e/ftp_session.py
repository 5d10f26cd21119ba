"""One FTP control session across a failover: RETR a large file at a bounded rate (so that the
test can act mid-transfer), then, on the same control connection, LIST and RETR of a small file.
Prints "progress BYTES" now and then, then "retr BYTES SHA256", "list N-LINES", "small TEXT" and
"done"; any error ends it with "error ...".

    ftp_session.py HOST passive|active BIG SMALL OUT RATE_BYTES_PER_S"""

import ftplib
import hashlib
import sys
import time


def main(host, mode, big, small, out, rate):
    ftp = ftplib.FTP()
    ftp.connect(host, 21, timeout=30)
    ftp.login()
    ftp.set_pasv(mode == "passive")
    h = hashlib.sha256()
    got = 0
    start = time.time()
    last_print = 0
    with open(out, "wb") as f:
        def block(data):
            nonlocal got, last_print
            f.write(data)
            h.update(data)
            got += len(data)
            ahead = got / rate - (time.time() - start)
            if ahead > 0:
                time.sleep(ahead)
            if got - last_print >= 1 << 20:
                print(f"progress {got}", flush=True)
                last_print = got
        ftp.retrbinary(f"RETR {big}", block, blocksize=65536)
    print(f"retr {got} {h.hexdigest()}", flush=True)
    lines = []
    ftp.retrlines("LIST", lines.append)
    print(f"list {len(lines)}", flush=True)
    text = []
    ftp.retrlines(f"RETR {small}", text.append)
    print(f"small {' '.join(text)}", flush=True)
    ftp.quit()
    print("done", flush=True)


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]))
    except Exception as e:  # the test reads the outcome from the log
        print(f"error {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
