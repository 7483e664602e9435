#!/usr/bin/env python3
"""How many pages of the server's (sender, client_msg_id) index a run of sends
writes, with random ids (UUID version 4) and with time-ordered ones (the
version 7 layout the app makes): an index of a million keys, then 2,500 sends
five to a commit; the distinct pages are counted from the write-ahead log,
which is what a checkpoint writes back into the database.

    tools/models/client_id_pages.py [SENDERS]   (default 1000)
"""
import os
import random
import sqlite3
import struct
import sys
import tempfile
import uuid

SENDERS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
KEYS = 1_000_000
SENDS, PER_COMMIT = 2_500, 5


def time_ordered(ms):
    return str(uuid.UUID('%012x7%019x' % (ms, random.getrandbits(76))))


def make_id(kind, ms):
    return str(uuid.uuid4()) if kind == 'random' else time_ordered(ms)


def log_pages(path):
    data = open(path, 'rb').read()
    page_size = struct.unpack('>I', data[8:12])[0]
    pages, frames, at = set(), 0, 32
    while at + 24 <= len(data):
        pages.add(struct.unpack('>I', data[at:at + 4])[0])
        frames += 1
        at += 24 + page_size
    return frames, len(pages)


with tempfile.TemporaryDirectory() as folder:
    for kind in ('random', 'time-ordered'):
        path = os.path.join(folder, kind + '.db')
        db = sqlite3.connect(path, isolation_level=None)
        db.execute('PRAGMA journal_mode=WAL')
        db.execute('PRAGMA wal_autocheckpoint=0')
        db.execute('CREATE TABLE m (id INTEGER PRIMARY KEY, sender INTEGER, cid TEXT)')
        db.execute('CREATE UNIQUE INDEX m_cid ON m (sender, cid)')
        ms = 1_700_000_000_000
        db.execute('BEGIN')
        for i in range(KEYS):
            ms += i % 3 == 0
            db.execute('INSERT INTO m (sender, cid) VALUES (?, ?)',
                       (random.randrange(SENDERS), make_id(kind, ms)))
        db.execute('COMMIT')
        db.execute('PRAGMA wal_checkpoint(TRUNCATE)')
        for _ in range(SENDS // PER_COMMIT):
            db.execute('BEGIN')
            for _ in range(PER_COMMIT):
                ms += 1
                db.execute('INSERT INTO m (sender, cid) VALUES (?, ?)',
                           (random.randrange(SENDERS), make_id(kind, ms)))
            db.execute('COMMIT')
        frames, pages = log_pages(path + '-wal')
        print('%d senders, %s ids: %d log frames, %d distinct pages' % (SENDERS, kind, frames, pages))
        db.close()
