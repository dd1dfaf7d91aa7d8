"""A WebSocket echo server with nothing but the standard library, run inside a workspace
as the far end of the proxy benchmark (and of the port tests): ``python3 ws_echo.py PORT``.
Plain HTTP GETs answer ``ok``."""

import base64
import hashlib
import socket
import struct
import sys
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError
        buf += chunk
    return buf


def serve(conn: socket.socket) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
        key = headers.get("sec-websocket-key")
        if key is None:
            body = b"ok"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n" + body)
            return
        digest = hashlib.sha1((key + GUID).encode()).digest()  # noqa: S324 - RFC 6455 says SHA-1
        accept = base64.b64encode(digest).decode()
        conn.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        while True:
            b0, b1 = read_exact(conn, 2)
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                length = struct.unpack(">H", read_exact(conn, 2))[0]
            elif length == 127:
                length = struct.unpack(">Q", read_exact(conn, 8))[0]
            mask = read_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(read_exact(conn, length)))
            if opcode == 8:
                conn.sendall(b"\x88\x00")
                return
            if opcode == 9:
                opcode = 10
            n = len(payload)
            header = bytes([0x80 | opcode]) + (
                bytes([n])
                if n < 126
                else bytes([126]) + struct.pack(">H", n)
                if n < 65536
                else bytes([127]) + struct.pack(">Q", n)
            )
            conn.sendall(header + payload)


def main() -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[1])))
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
