#!/usr/bin/env python3
"""pty-stderr.py OUT ERR CMD...: run CMD with its standard error on a
pseudo-terminal (so that it is "a terminal"), standard output into the file
OUT and standard input from /dev/null; what CMD writes to the terminal is
kept, bytes as they came, in the file ERR.  Exits with CMD's exit code.
"""
import os
import pty
import subprocess
import sys
import termios
import struct
import fcntl


def main():
    out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    master, slave = pty.openpty()
    # a known width, as a terminal has one
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    with open(out, "wb") as fo, open(os.devnull, "rb") as fi:
        p = subprocess.Popen(cmd, stdin=fi, stdout=fo, stderr=slave, close_fds=True)
    os.close(slave)
    got = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        got += chunk
    code = p.wait()
    os.close(master)
    with open(err, "wb") as fe:
        fe.write(bytes(got))
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
