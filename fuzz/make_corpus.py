#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the structured seeds of the fuzz corpora: whole sessions that reach deep states.

    fuzz/make_corpus.py [OUT_DIR]          (default: fuzz/corpus)

Each seed follows its target's input format (see the comment at the top of each fuzz/*.c):
  vhost_packed           packed rings of several sizes and start positions, chains (direct and
                         indirect) posted lap after lap the way a driver does, frames both
                         ways, event suppression modes, IOTLB pages answered one by one
  vhost_msg, vhost_sock  a front-end negotiating, a sealed memfd memory table, both rings set up
                         with frames queued, with and without ACCESS_PLATFORM (IOTLB UPDATEs,
                         MISSes answered), kicks; slow senders and hang-ups for vhost_sock;
                         EVENT_IDX with used_event/avail_event, indirect tables (valid and
                         hostile: nested, bad length, loop), a second queue pair (MQ)
  vtd                    root, context and second-level tables in guest memory, translation
                         enabled, DMA that completes walks (4 KiB and 2 MiB leaves) and hits the
                         IOTLB, register-based and queued invalidations, pass-through
  virtio_iommu           the all-zero (valid) session and header variants that translate; MSI,
                         ISR, configuration space and bypass toggles; hostile queue layouts
  devtlb_source          map, miss, service, hit, unmap and remap sequences
  smmuv3                 a linear stream table with a stage 1, stage 2 or nested STE, CD and
                         4 KiB tables (pages and a 2 MiB block), command and event queues,
                         CFGI_ALL/TLBI/CMD_SYNC, DMA that walks, hits and faults, TLBI with a range
  shadow                 virtio-iommu requests into the shadow engine, hosts of every kind
  amdvi_hwv              a guest bringing up its HW-vIOMMU (trapped control page, queues,
                         DTE traps of a v2 and an identity device), commands through the tail
                         doorbell (mapped, unmapped and host-only IDs, completion-wait stores in
                         and out of its memory), nested DMA that hits, misses and faults
The fuzz-grown parts of the corpora (merged with libFuzzer's -merge=1) sit beside these.
"""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")

# vhost-user (include/viommu/spec/vhost_user.h)
GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL = 12, 13
SET_PROTOCOL_FEATURES, SET_VRING_ENABLE, SET_BACKEND_REQ_FD, IOTLB_MSG = 16, 18, 21, 22
NEED_REPLY = 1 << 3
PROTO = (1 << 3) | (1 << 5) | (1 << 15)  # REPLY_ACK, BACKEND_REQ, CONFIGURE_MEM_SLOTS
PROTO_MQ = 1 << 0
GET_QUEUE_NUM = 17
INDIRECT_DESC, EVENT_IDX, NET_MQ = 1 << 28, 1 << 29, 1 << 22
FEAT = (1 << 32) | (1 << 15) | (1 << 30)  # VERSION_1, MRG_RXBUF, PROTOCOL_FEATURES
ACCESS_PLATFORM = 1 << 33
FE_VA = 0x7F0000000000
IOVA = 0xFEF00000
MEM = 0x10000
QN = 8
RXD, RXA, RXU = 0x1000, 0x1200, 0x1400
TXD, TXA, TXU = 0x2000, 0x2200, 0x2400
TXBUF, RXBUF = 0x4000, 0x8000
IND = 0x3000  # an indirect table
QP1 = 0xB000  # the second queue pair's rings sit this much above the first's


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v & (2**64 - 1))


def frame():
    """A 12-byte virtio-net header and an Ethernet/IPv4/UDP frame of 60 bytes."""
    eth = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0])
    ip = bytes([0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])
    udp = bytes([0, 9, 0, 7, 0, 26, 0, 0]) + bytes(18)
    return bytes(12) + eth + ip + udp


def desc(addr, length, flags, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def avail(heads):
    return u16(0) + u16(len(heads)) + b"".join(u16(h) for h in heads)


# Indirect tables: "ok" (header, then the frame), and hostile ones.
INDIRECT_TABLES = {
    "ok": lambda b, n: (desc(b + TXBUF, 12, 1, 1) + desc(b + TXBUF + 12, n - 12, 0), 32),
    "nested": lambda b, n: (desc(b + IND, 16, 4), 16),
    "badlen": lambda b, n: (desc(b + TXBUF, n, 0), 24),
    "loop": lambda b, n: (desc(b + TXBUF, 12, 1, 1) + desc(b + TXBUF + 12, 12, 1, 0), 32),
}


def ring_images(base, indirect=None, pairs=1):
    """(guest offset, bytes) pokes: a transmit chain with a frame, eight receive buffers."""
    fr = frame()
    if indirect:
        table, tlen = INDIRECT_TABLES[indirect](base, len(fr))
        txd = desc(base + IND, tlen, 4)
    else:
        txd = desc(base + TXBUF, 12, 1, 1) + desc(base + TXBUF + 12, len(fr) - 12, 0)
    pokes = [(TXBUF, fr)]
    if indirect:
        pokes.append((IND, table))
    for k in range(pairs):
        o = QP1 * k
        pokes += [
            (o + TXD, txd),
            (o + TXA, avail([0])),
            (o + RXD, b"".join(desc(base + RXBUF + 2048 * i, 2048, 2) for i in range(QN))),
            (o + RXA, avail(list(range(QN)))),
        ]
    return pokes


def vring_msgs(q, base):
    o = QP1 * (q // 2)
    d, a, u = (RXD + o, RXA + o, RXU + o) if q % 2 == 0 else (TXD + o, TXA + o, TXU + o)
    return [
        (SET_VRING_NUM, NEED_REPLY, u32(q) + u32(QN), None),
        (SET_VRING_BASE, NEED_REPLY, u32(q) + u32(0), None),
        (SET_VRING_ADDR, NEED_REPLY,
         u32(q) + u32(0) + u64(base + d) + u64(base + u) + u64(base + a) + u64(0), None),
        (SET_VRING_KICK, NEED_REPLY, u64(q), "kick"),
        (SET_VRING_CALL, NEED_REPLY, u64(q), "call"),
        (SET_VRING_ENABLE, NEED_REPLY, u32(q) + u32(1), None),
    ]


def session(iommu, feat=0, indirect=None, pairs=1):
    """A front-end session as (request, flags, payload, fd) tuples, plus the ring pokes."""
    base = IOVA if iommu else FE_VA  # ring addresses
    bufs = IOVA if iommu else 0  # descriptor addresses: IOVAs, or guest-physical
    mem_table = u32(1) + u32(0) + u64(0) + u64(MEM) + u64(FE_VA) + u64(0)
    msgs = [
        (SET_PROTOCOL_FEATURES, NEED_REPLY, u64(PROTO | (PROTO_MQ if pairs > 1 else 0)), None),
        (SET_OWNER, NEED_REPLY, b"", None),
        (SET_BACKEND_REQ_FD, NEED_REPLY, b"", "backend"),
        (SET_FEATURES, NEED_REPLY, u64(FEAT | feat | (ACCESS_PLATFORM if iommu else 0)), None),
        (SET_MEM_TABLE, NEED_REPLY, mem_table, "mem"),
    ]
    if iommu:  # the whole of guest memory at IOVA, as a first answer
        msgs.append((IOTLB_MSG, NEED_REPLY, u64(IOVA) + u64(MEM) + u64(FE_VA) + bytes([3, 2])
                     + bytes(6), None))
    if pairs > 1:
        msgs.append((GET_QUEUE_NUM, 0, b"", None))
    for q in range(2 * pairs):
        msgs += vring_msgs(q, base)
    return msgs, ring_images(bufs, indirect, pairs)


# The variants beyond the plain sessions: (name, features, indirect table, queue pairs).
VARIANTS = [
    ("event-idx", EVENT_IDX, None, 1),
    ("indirect", INDIRECT_DESC | EVENT_IDX, "ok", 1),
    ("indirect-nested", INDIRECT_DESC, "nested", 1),
    ("indirect-badlen", INDIRECT_DESC, "badlen", 1),
    ("indirect-loop", INDIRECT_DESC, "loop", 1),
    ("mq", NET_MQ | EVENT_IDX, None, 2),
]


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- vhost_msg: records of u8 fd kind (0, 1..8 memfd copies, 9 eventfd), u8 poke length,
# u16 poke offset, poke bytes, 12-byte header, payload.
def msg_record(req, flags, payload, fd, poke=(0, b"")):
    kind = {None: 0, "mem": 1, "kick": 9, "call": 9, "backend": 9}[fd]
    off, data = poke
    return (bytes([kind, len(data)]) + u16(off) + data + u32(req) + u32(1 | flags)
            + u32(len(payload)) + payload)


def vhost_msg_seeds():
    for iommu in (False, True):
        msg_seed(iommu, "iommu" if iommu else "gpa", session(iommu))
        for name, feat, ind, pairs in VARIANTS:
            msg_seed(iommu, ("iommu-" if iommu else "gpa-") + name, session(iommu, feat, ind, pairs),
                     extra=False)


def msg_seed(iommu, name, sess, extra=True):
    msgs, pokes = sess
    out = b""
    pk = list(pokes)
    for i, (req, flags, payload, fd) in enumerate(msgs):
        poke = (0, b"")
        # Ring images ride on the last messages, so the rings are full when they start.
        if i >= len(msgs) - len(pk) and pk:
            off, data = pk.pop(0)
            poke = (off, data[:255])
        out += msg_record(req, flags, payload, fd, poke)
    for off, data in pk:
        out += msg_record(GET_FEATURES, 0, b"", None, (off, data[:255]))
    # More frames: post the transmit chain again, then stop a queue.
    out += msg_record(GET_FEATURES, 0, b"", None, (TXA, avail([0, 0])))
    # EVENT_IDX: used_event 1 in the transmit queue's available ring (after its 8 entries).
    out += msg_record(GET_FEATURES, 0, b"", None, (TXA + 4 + 2 * QN, u16(1)))
    out += msg_record(GET_VRING_BASE, 0, u32(1) + u32(0), None)
    write("vhost_msg", name, out)
    if iommu and extra:  # an invalidation of everything and a re-update
        inval = msg_record(IOTLB_MSG, NEED_REPLY, u64(0) + u64(0) + u64(0) + bytes([0, 3])
                           + bytes(6), None)
        upd = msg_record(IOTLB_MSG, NEED_REPLY, u64(IOVA) + u64(MEM) + u64(FE_VA)
                         + bytes([3, 2]) + bytes(6), None)
        write("vhost_msg", "iommu-invalidate", out + inval + upd +
              msg_record(GET_FEATURES, 0, b"", None, (TXA, avail([0, 0, 0]))))


# ---- vhost_sock: a script of ops (see fuzz_vhost_sock.c).
FDSEL = {None: 0, "mem": 1, "kick": 2, "call": 3, "pipe_r": 4, "pipe_w": 5, "backend": 6,
         "unsealed": 7}


def op_msg(req, flags, payload, fd):
    return (bytes([0x01, req, flags]) + u16(len(payload)) + bytes([FDSEL[fd]]) + payload)


def op_steps(n):
    return bytes([0x02 | ((n - 1) << 4)])


def op_poke(off, data):
    out = b""
    for i in range(0, len(data), 63):
        chunk = data[i:i + 63]
        out += bytes([0x04]) + u16(off + i) + bytes([len(chunk)]) + chunk
    return out


OP_KICK, OP_DRAIN = bytes([0x03]), bytes([0x05])


def op_answer():
    """Answer up to four MISSes with read-write UPDATEs."""
    return bytes([0x3E])


def vhost_sock_seeds():
    for iommu in (False, True):
        for name, feat, ind, pairs in VARIANTS:
            msgs, pokes = session(iommu, feat, ind, pairs)
            out = bytes([0])
            for off, data in pokes:
                out += op_poke(off, data)
            for req, flags, payload, fd in msgs:
                out += op_msg(req, flags, payload, fd) + op_steps(1)
            out += OP_DRAIN + OP_KICK + op_steps(4)
            if iommu:
                for _ in range(6):
                    out += op_answer() + op_steps(2)
            out += OP_DRAIN
            write("vhost_sock", ("iommu-" if iommu else "gpa-") + name, out)
        msgs, pokes = session(iommu)
        out = bytes([0])  # reflect
        for off, data in pokes:
            out += op_poke(off, data)
        for req, flags, payload, fd in msgs:
            out += op_msg(req, flags, payload, fd) + op_steps(1)
        out += OP_DRAIN + OP_KICK + op_steps(4)
        if iommu:
            for _ in range(6):
                out += op_answer() + op_steps(2)
        out += OP_DRAIN + op_poke(TXA, avail([0, 0])) + OP_KICK + op_steps(4) + OP_DRAIN
        write("vhost_sock", ("iommu" if iommu else "gpa"), out)
        if not iommu:
            # The same session with every message sent in 5-byte pieces (a slow sender).
            slow = bytes([1])
            for off, data in pokes:
                slow += op_poke(off, data)
            for req, flags, payload, fd in msgs:
                raw = u32(req) + u32(1 | flags) + u32(len(payload)) + payload
                for i in range(0, len(raw), 5):
                    sel = FDSEL[fd] if i == 0 else 0
                    piece = raw[i:i + 5]
                    slow += bytes([0x00, len(piece) - 1, sel]) + piece + op_steps(1)
            slow += OP_KICK + op_steps(4) + OP_DRAIN
            write("vhost_sock", "slow-sender", slow)
            # Kick through a pipe whose writer then hangs up.
            hup = bytes([0])
            for off, data in pokes:
                hup += op_poke(off, data)
            for req, flags, payload, fd in msgs:
                hup += op_msg(req, flags, payload, "pipe_r" if fd == "kick" else fd)
                hup += op_steps(1)
            hup += bytes([0x13]) + op_steps(2) + bytes([0x17]) + op_steps(4) + OP_DRAIN
            write("vhost_sock", "kick-hangup", hup)
            # A front-end that never reads its replies.
            flood = bytes([0]) + b"".join(op_msg(GET_FEATURES, 0, b"", None) + op_steps(1)
                                          for _ in range(120))
            write("vhost_sock", "no-reader", flood)


# ---- vtd (see fuzz_vtd.c): flags, mode, u16 fill length, guest memory, then ops.
REG_GCMD, REG_RTADDR, REG_CCMD, REG_IQT, REG_IQA, REG_IOTLB = 0, 2, 4, 13, 15, 26


def vtd_w32(idx, v):
    return bytes([0x00, idx]) + u32(v)


def vtd_w64(idx, v):
    return bytes([0x84, idx]) + u64(v)


def vtd_poke(at, v):
    return bytes([0x03]) + struct.pack("<I", at)[:3] + u64(v)


def vtd_dma(sid, iova, length, access):
    return bytes([0x04]) + u16(sid) + u64(iova) + u16(length) + bytes([access])


def vtd_seed(tt, qi, cm):
    flags = 0x3E | (1 if cm else 0)  # 2M, 1G, QI, DT, PT (+CM); AW 39 (bits 6-7 = 0)
    ctx = 0x1000 + 0x10 * 16  # devfn 0x10 (00:02.0) in the context table of bus 0
    # Memory image: the root entry of bus 0 -> context table, present; the rest by pokes.
    out = bytes([flags, 0x07]) + u16(8) + u64(0x1000 | 1)
    out += vtd_poke(ctx, 0x2000 | (tt << 2) | 1) + vtd_poke(ctx + 8, 1 | (1 << 8))  # AW 1, DID 1
    # Second-level tables: L3 0x2000 -> L2 0x3000 -> L1 0x4000 -> 4 KiB pages; a 2 MiB leaf.
    out += vtd_poke(0x2000, 0x3000 | 3) + vtd_poke(0x3000, 0x4000 | 3)
    out += vtd_poke(0x3008, 0x200000 | (1 << 7) | 3)
    for i in range(8):
        out += vtd_poke(0x4000 + 8 * i, (0x10000 + 0x1000 * i) | (3 if i % 2 == 0 else 1))
    out += vtd_w64(REG_RTADDR, 0) + vtd_w32(REG_GCMD, 1 << 30) + vtd_w32(REG_GCMD, 1 << 31)
    dmas = b""
    for i in range(8):
        dmas += vtd_dma(0x10, 0x1000 * i + 0x10, 0x100, 1 + (i % 2))
    dmas += vtd_dma(0x10, 0x200000 + 0x1234, 0x2000, 3) + vtd_dma(0x10, 0x40000000, 4, 1)
    dmas += vtd_dma(0x18, 0x1000, 4, 1)  # a device without a context entry
    out += dmas + dmas  # the second round hits the IOTLB
    if qi:
        # Queue at 0x6000 (256 descriptors): context-cache and IOTLB global, then a wait.
        out += vtd_poke(0x6000, 0x1 | (1 << 4)) + vtd_poke(0x6010, 0x2 | (1 << 4))
        out += vtd_poke(0x6020, 0x3 | (0x10 << 32)) + vtd_poke(0x6028, 0x1000)
        out += vtd_poke(0x6030, 0x5 | (1 << 5) | (0x1234 << 32)) + vtd_poke(0x6038, 0x7000)
        out += vtd_w64(REG_IQA, 0x6000) + vtd_w32(REG_GCMD, (1 << 31) | (1 << 26))
        out += vtd_w64(REG_IQT, 4 << 4)
    else:
        out += vtd_w64(REG_CCMD, (1 << 63) | (1 << 61))
        out += vtd_w64(REG_IOTLB, (1 << 63) | (1 << 60))
    # The leaf goes, then the same DMA again: a walk that faults, recorded.
    out += vtd_poke(0x4000, 0) + dmas
    return out


def vtd_seeds():
    for tt, name in ((0, "walk"), (2, "passthrough"), (1, "devtlb")):
        for qi in (False, True):
            for cm in (False, True):
                write("vtd", "%s-%s%s" % (name, "qi" if qi else "reg", "-cm" if cm else ""),
                      vtd_seed(tt, qi, cm))


# ---- virtio_iommu (see fuzz_virtio_iommu.c): 24-byte header, then an XOR over the skeleton.
def virtio_iommu_seeds():
    write("virtio_iommu", "zero", bytes(24))
    n = 0
    for kicks in (1, 4, 8):
        for iova in (0x10, 0x20, 0x30, 0x01, 0x02):
            for bypass in (0, 1):
                hdr = bytearray(24)
                hdr[0] = bypass
                hdr[5] = kicks - 1
                hdr[22] = iova
                hdr[23] = 0x40
                write("virtio_iommu", "kicks%d-iova%02x-b%d" % (kicks, iova, bypass), bytes(hdr))
                n += 1
    # The transport: MSI routing, ISR reads, configuration space and the bypass toggle.
    for kicks in (2, 8):
        hdr = bytearray(24)
        hdr[0] = 0x04 | 0x08 | 0x10
        hdr[5] = kicks - 1
        hdr[22], hdr[23] = 0x24, 0x01  # a one-byte write at the bypass offset
        write("virtio_iommu", "transport-kicks%d" % kicks, bytes(hdr))
    # Hostile request-queue layouts, each variant.
    for variant in range(8):
        hdr = bytearray(24)
        hdr[0] = 0x20
        hdr[4] = variant << 3
        hdr[5] = 3
        write("virtio_iommu", "layout%d" % variant, bytes(hdr))


# ---- devtlb_source (see fuzz_devtlb_source.c): mode, then ops.
def ds_map(page, n, phys, flags, queued=False):
    return bytes([0x03 if queued else 0x02, page, n - 1, phys, flags - 1])


def ds_lookup(page, off, length, access):
    return bytes([0x0A | ((access - 1) << 4), page]) + u16(off) + u16(length)


def devtlb_source_seeds():
    for mode in (0, 1, 2, 4, 5):
        out = bytes([mode, 0x00])  # attach endpoint 1 to domain 1
        out += ds_map(1, 4, 16, 3) + ds_map(8, 2, 32, 1, True)
        for p in (1, 2, 8, 9, 20):
            out += ds_lookup(p, 0x10, 64, 1)
        out += bytes([0x07])  # service the misses
        for p in (1, 2, 8, 9, 20):
            out += ds_lookup(p, 0x10, 64, 1) + ds_lookup(p, 0x800, 4096, 2)
        out += bytes([0x04, 1, 1]) + bytes([0x05, 8, 0]) + bytes([0x06])  # unmaps
        for p in (1, 2, 8):
            out += ds_lookup(p, 0, 8, 1)
        out += bytes([0x07]) + ds_map(1, 2, 40, 3) + bytes([0x07])
        for p in (1, 2):
            out += ds_lookup(p, 0, 8, 3)
        out += bytes([0x01]) + ds_lookup(2, 0, 8, 1) + bytes([0x08, 0x19])
        write("devtlb_source", "mode%d" % mode, out)


# ---- shadow (see fuzz_shadow.c): config byte, limit byte, then ops.
def shadow_seeds():
    for cfg in (0x00, 0x09, 0x19, 0x41, 0x82, 0xca):
        for lim in (0x00, 0x03, 0x70):
            out = bytes([cfg, lim])
            out += bytes([0x20]) + (1).to_bytes(3, "little") + (7).to_bytes(2, "little")
            out += (0x10).to_bytes(2, "little") + bytes([3])  # map 8 pages in domain 1
            out += bytes([0x20]) + (9).to_bytes(3, "little") + (0).to_bytes(2, "little")
            out += (0x11).to_bytes(2, "little") + bytes([1])  # and one more
            out += bytes([0x21]) + (1).to_bytes(3, "little") + (7).to_bytes(2, "little")  # unmap
            out += bytes([0x05, 0x0d, 0x32])  # replay, replay, attach bypass
            out += bytes([0x24]) + (3).to_bytes(3, "little") + bytes([2])
            out += (0x500).to_bytes(2, "little") + (9).to_bytes(3, "little") + (9).to_bytes(3, "little")
            out += bytes([0x22, 0x23, 0x06])
            write("shadow", "cfg%02x-lim%02x" % (cfg, lim), out)


# ---- calgary (see fuzz_calgary.c): flags, u16 fill length, guest memory, then ops.
def cal_w64(idx, v):
    return bytes([0x00, idx]) + u64(v)


def cal_w32(phb, idx, v):
    return bytes([0x01 | (phb << 4), idx]) + u32(v)


def cal_hcall(phb, opc, ioba, a2, a3):
    return bytes([0x04 | (phb << 4)]) + u32(ioba) + u64(a2) + u16(a3) + bytes([opc])


def cal_dma(sid, iova, length, access):
    return bytes([0x06]) + u16(sid) + u64(iova) + u16(length) + bytes([access])


def calgary_seed(chip, hcalls):
    table = 0x10000  # a table of code 0 (64 KiB); guest memory starts empty (fill 0)
    tces = [(0x40000 + 0x1000 * i) | (3 if i % 2 else 1) for i in range(8)]
    out = bytes([chip]) + u16(0)
    # TAR 0 (idx 0), then TCE enable (CONFIG_RW, idx 2) on PHB 0.
    out += cal_w64(0, table) + cal_w32(0, 2, 0x20000000)
    # The table itself by pokes (op 3, 3-byte address, 8 bytes), big-endian TCEs.
    for i in range(8):
        out += bytes([0x43]) + struct.pack("<I", table + 8 * i)[:3] + struct.pack(">Q", tces[i])
    dmas = b"".join(cal_dma(0x0008, 0x1000 * i + 0x10, 0x100, 1 + (i % 2)) for i in range(8))
    dmas += cal_dma(0x0108, 0x1000, 4, 1) + cal_dma(0x0008, 0x2000000, 4, 1)
    out += dmas + dmas
    if hcalls:
        out += cal_hcall(0, 0, 0x3000, 0x90000 | 3, 0)  # H_PUT_TCE
        out += cal_hcall(0, 1, 0x3000, 0, 0)  # H_GET_TCE
        out += cal_hcall(0, 2, 0x20000, 0, 64)  # H_STUFF_TCE
        out += cal_hcall(0, 3, 0x40000, 0, 16)  # H_PUT_TCE_INDIRECT, list at 0
        out += cal_hcall(0, 3, 0x40000, 0x8, 16)  # unaligned list
    # Blast: Calgary AER off, TAR, AER on; CalIOC2 PMCR SoftStop, read (HardStop), TAR, PMCR 0.
    if chip == 0:
        out += cal_w32(0, 3, 0) + cal_w64(0, table) + cal_w32(0, 3, 0xffffffff)
    else:
        out += cal_w32(0, 4, 0x80000000) + bytes([0x81, 4]) + cal_w64(0, table)
        out += cal_w32(0, 4, 0)
    out += dmas + bytes([0x05]) + struct.pack("<I", table)[:3] + struct.pack("<I", 64)[:3]
    return out


def calgary_seeds():
    for chip in (0, 1):
        for hc in (False, True):
            write("calgary", "%s%s" % ("calioc2" if chip else "calgary", "-hcall" if hc else ""),
                  calgary_seed(chip, hc))
# ---- smmuv3 (see fuzz_smmuv3.c): flags, mode, u16 fill length, guest memory, then ops.
SM_CR0, SM_CR2, SM_STRTAB, SM_STRTAB_CFG, SM_CMDQ_BASE, SM_CMDQ_PROD = 0, 2, 8, 10, 11, 13
SM_EVTQ_BASE, SM_EVTQ_CONS = 15, 20


def sm_w32(idx, v):
    return bytes([0x00, idx]) + u32(v)


def sm_w64(idx, v):
    return bytes([0x85, idx]) + u64(v)  # 0x85 % 7 == 0 with bit 7: a 64-bit write


def sm_dma(sid, iova, length, access):
    return bytes([0x05]) + u16(sid) + u64(iova) + u16(length) + bytes([access])


def sm_s1_tables(l1, cd_at, asid):
    """A CD (T0SZ 32: three 4 KiB levels) at cd_at and tables from l1: 8 pages and a block."""
    out = vtd_poke(cd_at, 32 | (1 << 30) | (1 << 31) | (5 << 32) | (1 << 41) | (1 << 45)
                   | (1 << 46) | (asid << 48))
    out += vtd_poke(cd_at + 8, l1)
    out += vtd_poke(l1, (l1 + 0x1000) | 3) + vtd_poke(l1 + 0x1000, (l1 + 0x2000) | 3)
    out += vtd_poke(l1 + 0x1008, 0x200000 | 1 | (1 << 10) | (1 << 6))  # 2 MiB block
    for i in range(8):
        ap = (1 << 6) | ((1 << 7) if i % 2 else 0)  # odd pages read-only
        out += vtd_poke(l1 + 0x2000 + 8 * i, (0x20000 + 0x1000 * i) | 3 | (1 << 10) | ap)
    return out


def sm_s2_tables(l1):
    """Stage 2 (T0SZ 32, SL0 1): 2 MiB identity blocks over the first 4 MiB."""
    out = vtd_poke(l1, (l1 + 0x1000) | 3)
    for i in range(2):
        out += vtd_poke(l1 + 0x1000 + 8 * i, (i << 21) | 1 | (1 << 10) | 0xC0)
    return out


def sm_seed(kind):
    out = bytes([0x00, 0x00]) + u16(0)
    ste = 0x10000 + 64  # StreamID 1 of a linear table
    cfg = {"s1": 5, "s2": 6, "nested": 7}[kind]
    out += vtd_poke(ste, 1 | (cfg << 1) | 0x11000)
    if kind != "s2":
        out += sm_s1_tables(0x12000, 0x11000, 1)
    if kind == "s2":
        out += sm_s2_tables(0x12000)
    if kind != "s1":
        vtcr = 32 | (1 << 6) | (5 << 16)  # T0SZ 32, SL0 1, TG 4K, PS 48
        w2 = 1 | (vtcr << 32) | (1 << 51) | (1 << 58)  # VMID 1, AA64, S2R
        out += vtd_poke(ste + 16, w2)
        out += vtd_poke(ste + 24, 0x12000 if kind == "s2" else 0x18000)
        if kind == "nested":
            out += sm_s2_tables(0x18000)
    # Commands at 0x15000: CFGI_ALL, TLBI_NSNH_ALL, CMD_SYNC.
    out += vtd_poke(0x15000, 0x04) + vtd_poke(0x15008, 31)
    out += vtd_poke(0x15010, 0x30) + vtd_poke(0x15020, 0x46)
    out += sm_w64(SM_STRTAB, 0x10000) + sm_w32(SM_STRTAB_CFG, 4)
    out += sm_w64(SM_CMDQ_BASE, 0x15000 | 4) + sm_w64(SM_EVTQ_BASE, 0x16000 | 4)
    out += sm_w32(SM_CR2, 2) + sm_w32(SM_CR0, 0xC) + sm_w32(SM_CMDQ_PROD, 3)
    out += sm_w32(SM_CR0, 0xD)
    dmas = b""
    for i in range(8):
        dmas += sm_dma(1, 0x1000 * i + 0x10, 0x100, 1 + (i % 2))
    dmas += sm_dma(1, 0x200000 + 0x1234, 0x2000, 1) + sm_dma(1, 0x40000000, 4, 1)
    dmas += sm_dma(3, 0x1000, 4, 1) + sm_dma(0x400, 0x1000, 4, 1)  # bad STE, beyond the table
    out += dmas + dmas
    # TLBI_NH_VA with a range (TG 4K, NUM 3, SCALE 0), TLBI_S2_IPA, CMD_SYNC; then a leaf goes.
    out += vtd_poke(0x15030, 0x12 | (3 << 12) | (1 << 48)) + vtd_poke(0x15038, (1 << 10))
    out += vtd_poke(0x15040, 0x2A | (1 << 32)) + vtd_poke(0x15048, 0x3000)
    out += vtd_poke(0x15050, 0x46) + sm_w32(SM_CMDQ_PROD, 6)
    out += vtd_poke(0x14000 if kind != "s2" else 0x13000, 0) + dmas
    out += sm_w32(SM_EVTQ_CONS, 4)
    return out


def smmuv3_seeds():
    for kind in ("s1", "s2", "nested"):
        write("smmuv3", kind, sm_seed(kind))


# ---- amdvi_hwv: flags, guest memory fill, then ops (fuzz/fuzz_amdvi_hwv.c).
HW_CTRL = {0x00: 0, 0x08: 2, 0x10: 4, 0x18: 6}
HW_DEVTAB, HW_CMD, HW_EVT, HW_GCR3, HW_DATA, HW_STORE = 0x1000, 0x2000, 0x3000, 0x4000, 0x9000, 0xA000


def hw_ctrl(off, v):
    return bytes([0x80, HW_CTRL[off]]) + u64(v)


def hw_vf(off, v):
    return bytes([0x82, off]) + u64(v)


def hw_dma(op, iova, length, access):
    return bytes([op]) + u16(0) + u64(iova) + u16(length) + bytes([access])


def hw_trap(gdev_is_20):
    return bytes([0xE6 if gdev_is_20 else 0xC6]) + bytes(32)


def hw_dte(gdev, q):
    return bytes([0x06, gdev]) + b"".join(u64(x) for x in q)


def hw_poke(at, v):
    return bytes([0x04]) + struct.pack("<I", at)[:3] + u64(v)


def hw_memory(v2_dev10):
    """Guest memory as pokes (the smoke runs cap inputs at 4 KiB: no room for a memory image)."""
    out = b""
    gcr3 = HW_GCR3
    if v2_dev10:
        out += hw_poke(HW_DEVTAB + 0x10 * 32, 1 | 2 | (1 << 61) | (1 << 62) | (1 << 55)
                       | (1 << 54) | (((gcr3 >> 12) & 7) << 58))
        out += hw_poke(HW_DEVTAB + 0x10 * 32 + 8, 5 | (((gcr3 >> 15) & 0xFFFF) << 16))
    else:
        out += hw_poke(HW_DEVTAB + 0x10 * 32, 1 | 2 | (1 << 61) | (1 << 62))
        out += hw_poke(HW_DEVTAB + 0x10 * 32 + 8, 5)
    out += hw_poke(HW_DEVTAB + 0x20 * 32, 1 | 2 | (1 << 61) | (1 << 62))
    out += hw_poke(HW_DEVTAB + 0x20 * 32 + 8, 7)
    out += hw_poke(gcr3, 0x5000 | 1) + hw_poke(0x5000, 0x6007) + hw_poke(0x6000, 0x7007)
    out += hw_poke(0x7000, 0x8007)
    for i in range(4):
        out += hw_poke(0x8000 + 8 * i, (HW_DATA + 0x1000 * i) | 7)
    cmds = [
        [(HW_STORE & 0xFFFFFFF8) | 1, 1 << 28, 0x1234, 0x5678],   # COMPLETION_WAIT, store
        [0x10, 2 << 28, 0, 0],                                    # INVALIDATE_DEVTAB_ENTRY
        [0, 5 | (3 << 28), 0xFFFFF000 | 1 | 4, 0x7FFFFFFF],        # INVALIDATE_IOMMU_PAGES GN
        [0, 8 << 28, 0, 0],                                       # INVALIDATE_IOMMU_ALL
        [0x10, 4 << 28, 0xFFFFF000 | 1, 0x7FFFFFFF],               # INVALIDATE_IOTLB_PAGES
        [0x33, 2 << 28, 0, 0],                                    # unmapped DeviceID
        [0, 0x9 << 28 | 1, 0, 0],                                 # INSERT_GUEST_EVENT: host's
        [(0x30000 & 0xFFFFFFF8) | 1, 1 << 28, 1, 2],              # store inside, then outside
        [0x7FFF8 | 1, 1 << 28, 1, 2],
    ]
    for i, c in enumerate(cmds):
        out += hw_poke(HW_CMD + 16 * i, c[0] | c[1] << 32)
        out += hw_poke(HW_CMD + 16 * i + 8, c[2] | c[3] << 32)
    return out


def hw_bringup():
    ctl = 1 | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 12) | (1 << 16)
    out = hw_ctrl(0x00, HW_DEVTAB) + hw_ctrl(0x08, HW_CMD | (8 << 56))
    out += hw_ctrl(0x10, HW_EVT | (8 << 56)) + hw_ctrl(0x18, ctl)
    return out


def hw_seed(v2_dev10, hostile):
    out = bytes([0]) + u16(0) + hw_memory(v2_dev10) + hw_bringup()
    out += hw_trap(False) + hw_trap(True)
    out += hw_vf(0x08, 5 * 16)                     # the legal commands
    for op in (0x45, 0x65):
        for iova in (0x10, 0x1008, 0x3FF8, 0x4000, 0x20000, 0x50000):
            out += hw_dma(op, iova, 8, 1 + (iova & 1))
    out += hw_dma(0xC5, 0x10, 8, 1)                # with PASID 0
    out += hw_vf(0x08, 6 * 16)                     # unmapped DeviceID: the buffer stops
    out += hw_vf(0x20, 0xFFFFFFFF)                 # status W1C
    out += hw_ctrl(0x18, 1 | (1 << 2))             # CmdBufEn off, head past, on again
    out += hw_vf(0x00, 6 * 16) + hw_ctrl(0x18, 1 | (1 << 2) | (1 << 12) | (1 << 16))
    out += hw_vf(0x08, 9 * 16)
    if hostile:
        out += hw_dte(0x10, [1 | 2 | (3 << 9) | 0x80000, 0, 0, 0])  # names a v1 table
        out += hw_dte(0x10, [1 | 2, 0, 0, (1 << 15) | (2 << 16)])    # names a Guest ID
        out += hw_ctrl(0x18, 1)
        out += hw_ctrl(0x08, 0x3F000 | (15 << 56))                   # a queue past memory
        out += hw_ctrl(0x18, 1 | (1 << 2) | (1 << 12))
        out += hw_vf(0x08, 0x10)
        out += bytes([0x87]) + u16(0x2008) + bytes([3]) + bytes([0, 0x20, 0]) + bytes([8])
        out += hw_dma(0x05, 0x10, 8, 1)                             # no such device
    return out


def amdvi_hwv_seeds():
    write("amdvi_hwv", "v2", hw_seed(True, False))
    write("amdvi_hwv", "identity", hw_seed(False, False))
    write("amdvi_hwv", "hostile", hw_seed(True, True))


# ---- vhost_packed (see fuzz_vhost_packed.c): config byte, (u8 size - 1, u32 base) per ring,
# then ops.
def pk_chain(q, n, bid, extra):
    return bytes([0x01 | (q << 4), n - 1]) + u16(bid) + bytes([extra])


def pk_run():
    return bytes([0x09])


def vhost_packed_seeds():
    fresh = bytes([7]) + u32(0)  # 8 entries, QEMU's fresh positions
    for name, cfg, pre in (("gpa", 0x0B, b""), ("gpa-plain", 0x00, b""),
                           ("iommu", 0x2F, b""), ("iommu-pages", 0x0F,
                                                  b"".join(bytes([0x03, pg, 0, 2])
                                                           for pg in range(8)))):
        out = bytes([cfg]) + fresh + fresh + pre
        for i in range(8):
            out += pk_chain(0, 1, i, i)
        for lap in range(5):  # chains of 1 to 3 descriptors across the wrap
            out += pk_chain(1, 1 + lap % 3, lap, 0x12 + lap) + pk_run()
            out += pk_chain(0, 1, lap, lap)
        write("vhost_packed", name, out + pk_run())
    # Indirect tables (a valid one of two read-only entries, and a short one), event
    # suppression DESC at a position of the next lap, a ring of 5, positions mid-lap.
    table = desc(0x4000, 40, 0) + desc(0x4800, 60, 0)
    out = (bytes([0x0B, 4]) + u32(0x80038003) + bytes([4]) + u32(0x00020002)
           + bytes([0x00]) + u16(0x3000) + bytes([len(table)]) + table)
    for i in range(5):
        out += pk_chain(0, 1, i, i)
    out += bytes([0x18]) + u16(0x0002) + bytes([2])
    for k in range(6):
        out += pk_chain(1, 1, k, 0x81 if k % 2 else 0x02) + pk_run()
    out += bytes([0x07]) + pk_chain(1, 2, 9, 3) + pk_run() + bytes([0x07, 0x16]) + pk_run()
    write("vhost_packed", "indirect-event", out)
    # Hostile: a chain round the whole ring, random flags, positions past the ring.
    out = bytes([0x03, 3]) + u32(0) + bytes([3]) + u32(0)
    out += pk_chain(1, 4, 1, 0) + bytes([0x00]) + u16(0x2000 + 16 * 3 + 14) + bytes([2]) + u16(0x8081)
    out += pk_run() + bytes([0x15]) + u32(0x7FFF7FFF) + pk_run()
    out += bytes([0x00]) + u16(0x2000) + bytes([64]) + bytes(range(64)) + pk_run()
    write("vhost_packed", "hostile", out)


if __name__ == "__main__":
    vhost_packed_seeds()
    shadow_seeds()
    vhost_msg_seeds()
    vhost_sock_seeds()
    vtd_seeds()
    virtio_iommu_seeds()
    devtlb_source_seeds()
    calgary_seeds()
    smmuv3_seeds()
    amdvi_hwv_seeds()
