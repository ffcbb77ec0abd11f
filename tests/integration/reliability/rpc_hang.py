#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/rpc_hang.py - a TCP relay in front of the
# chain RPC that can hang (owned by the reliability tests): while the file
# HANG_FLAG exists it still accepts connections and reads requests, but
# forwards nothing and answers nothing (a blackholed provider, a hung anvil,
# a stalled proxy), also on connections opened before; once the file is
# gone it relays again. Usage: rpc_hang.py LISTEN_PORT TARGET_HOST
# TARGET_PORT HANG_FLAG (127.0.0.1 only).
import asyncio
import os
import sys


def hanging(flag):
    return os.path.exists(flag)


async def to_upstream(reader, writer, flag):
    """Client -> anvil; while hanging, requests are read and dropped."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if hanging(flag):
                continue  # swallowed: the client waits for an answer forever
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def to_client(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(listen_port, host, port, flag):
    async def serve(cr, cw):
        try:
            ur, uw = await asyncio.open_connection(host, port)
        except OSError:
            cw.close()
            return
        await asyncio.gather(to_upstream(cr, uw, flag), to_client(ur, cw))

    server = await asyncio.start_server(serve, "127.0.0.1", listen_port)
    print("hang relay listening", listen_port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]))
