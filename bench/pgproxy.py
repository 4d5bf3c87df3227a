#!/usr/bin/env python3
"""A TCP proxy in front of PostgreSQL that bench/soak.sh can make unreachable.

    pgproxy.py LISTEN_PORT TARGET_HOST TARGET_PORT

SIGUSR1: cut every connection and refuse new ones (the database is "down").
SIGUSR2: accept again. Loopback only.
"""
import asyncio
import signal
import sys


async def main() -> None:
    listen, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    conns: set[asyncio.Task] = set()
    state = {"server": None}

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(client_r, client_w):
        try:
            up_r, up_w = await asyncio.open_connection(host, port)
        except OSError:
            client_w.close()
            return
        task = asyncio.current_task()
        conns.add(task)
        try:
            await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))
        except asyncio.CancelledError:
            client_w.close()
            up_w.close()
        finally:
            conns.discard(task)

    async def start():
        state["server"] = await asyncio.start_server(handle, "127.0.0.1", listen, reuse_address=True)

    def down():
        if state["server"] is not None:
            state["server"].close()
            state["server"] = None
        for t in list(conns):
            t.cancel()
        print("pgproxy: down", flush=True)

    def up():
        if state["server"] is None:
            asyncio.ensure_future(start())
        print("pgproxy: up", flush=True)

    await start()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, down)
    loop.add_signal_handler(signal.SIGUSR2, up)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


asyncio.run(main())
