#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/rpc_relay.py - a plain TCP relay in front of
# the chain RPC (owned by the reliability tests): some nodes reach anvil
# through it, so that a test can take the chain away from those nodes only
# (stop this process: their requests are refused, as in the chaos suite's
# rpc_down; start it again on the same port) while the others keep it.
# With HANG_FLAG, while that file exists the relay still accepts connections
# and reads requests but forwards nothing and answers nothing (a blackholed
# provider, a hung anvil, a stalled proxy), also on connections opened
# before; once the file is gone it relays again.
# Usage: rpc_relay.py LISTEN_PORT TARGET_HOST TARGET_PORT [HANG_FLAG]
# (127.0.0.1 only).
import asyncio
import os
import sys


async def pipe(reader, writer, swallow=lambda: False):
    """reader -> writer; what arrives while swallow() is true is dropped
    (the client then waits for an answer forever)."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if swallow():
                continue
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(listen_port, host, port, flag):
    hanging = (lambda: os.path.exists(flag)) if flag else (lambda: False)

    async def serve(cr, cw):
        try:
            ur, uw = await asyncio.open_connection(host, port)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, uw, hanging), pipe(ur, cw))

    server = await asyncio.start_server(serve, "127.0.0.1", listen_port)
    print("relay listening", listen_port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                     sys.argv[4] if len(sys.argv) > 4 else None))
