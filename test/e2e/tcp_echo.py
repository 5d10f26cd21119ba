"""A TCP echo server for many idle connections: every line is sent back (asyncio). Several
processes may serve one port (SO_REUSEPORT)."""

import asyncio
import resource
import sys


async def serve(reader, writer):
    try:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(port):
    # reuse_port: several processes share the port (and the connections).
    server = await asyncio.start_server(serve, "0.0.0.0", port, backlog=4096, reuse_port=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    # As many descriptors as this process may have (the hard limit may be low: tests spread
    # connections over several processes).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(int(sys.argv[1])))
