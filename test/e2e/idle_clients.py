"""Many idle TCP connections to HOST:PORT: opens COUNT of them, each echoing one line, prints
"ready N" (then "failed TYPE=COUNT ..." for those that could not be opened), then, at each line
on stdin, has every connection echo another line and prints "round ok=N failed=M reset=R" (a
connection reset counts as reset, any other failure or a timeout as failed)."""

import asyncio
import collections
import resource
import sys


async def open_one(host, port, i, gate):
    async with gate:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        writer.write(f"first {i}\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 30)
        if line != f"first {i}\n".encode():
            raise RuntimeError(f"connection {i}: {line!r}")
        return reader, writer


async def echo(conn, i, text):
    """"ok", "reset" (the connection was reset) or "failed" (anything else, a timeout)."""
    reader, writer = conn
    try:
        writer.write(f"{text} {i}\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 30)
        return "ok" if line == f"{text} {i}\n".encode() else "failed"
    except ConnectionResetError:
        return "reset"
    except (ConnectionError, asyncio.TimeoutError, OSError):
        return "failed"


async def main(host, port, count):
    gate = asyncio.Semaphore(256)
    conns = await asyncio.gather(*(open_one(host, port, i, gate) for i in range(count)),
                                 return_exceptions=True)
    good = [c for c in conns if not isinstance(c, BaseException)]
    # Why the others failed, for the test's report: a count per exception type.
    why = collections.Counter(type(c).__name__ for c in conns if isinstance(c, BaseException))
    detail = " ".join(f"{name}={n}" for name, n in sorted(why.items()))
    print(f"ready {len(good)}" + (f" failed {detail}" if detail else ""), flush=True)
    loop = asyncio.get_running_loop()
    round_no = 0
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        round_no += 1
        results = await asyncio.gather(*(echo(c, i, f"round{round_no}")
                                         for i, c in enumerate(good)))
        ok, reset = results.count("ok"), results.count("reset")
        print(f"round ok={ok} failed={len(results) - ok - reset} reset={reset}", flush=True)


if __name__ == "__main__":
    # As many descriptors as this process may have (the hard limit may be low: tests spread
    # connections over several processes).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
