#!/usr/bin/env python3
"""Draws the App Center icons of Secure IP Access as GIF89a files (no libraries needed):
qpkg/icons/SecureIPAccess.gif (64x64), SecureIPAccess_gray.gif (64x64, the "disabled" look),
SecureIPAccess_80.gif (80x80). Run: python3 scripts/packaging/make-icons.py  (the outputs are committed).
A shield with a keyhole on a rounded tile; pixels are rendered at 4x4 subsamples for smooth edges."""
import os, struct

def shape(x, y):
    """Colour index at a point of the unit square (0 transparent, 1 tile, 2 shield, 3 keyhole)."""
    r = 0.16                                          # tile: rounded square
    cx, cy = min(max(x, r), 1 - r), min(max(y, r), 1 - r)
    if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
        return 0
    sx, sy = (x - 0.5) / 0.34, (y - 0.18) / 0.66      # shield: flat top, sides curving to a point
    if 0 <= sy <= 1 and abs(sx) <= (1.0 if sy < 0.45 else max(0.0, 1 - ((sy - 0.45) / 0.55) ** 1.6)):
        kx, ky = x - 0.5, y - 0.44                    # keyhole: circle + tapering slot
        if kx * kx + ky * ky <= 0.075 ** 2 or (0 <= ky <= 0.2 and abs(kx) <= 0.03 + ky * 0.12):
            return 3
        return 2
    return 1

def render(size, palette):
    n = 4
    pixels = []
    for py in range(size):
        for px in range(size):
            counts = [0, 0, 0, 0]
            for sy in range(n):
                for sx in range(n):
                    counts[shape((px + (sx + .5) / n) / size, (py + (sy + .5) / n) / size)] += 1
            # Blend the subsamples into one of 16 levels between the two most common colours.
            order = sorted(range(4), key=lambda c: -counts[c])
            a, b = order[0], order[1]
            if counts[b] == 0 or a == 0 and counts[a] == n * n:
                pixels.append(a * 16 if a else 0)
                continue
            if a == 0:
                a, b = b, a
            frac = counts[a] / (counts[a] + counts[b])
            if b == 0:  # edge against transparency: solid if mostly inside
                pixels.append(a * 16 if frac >= 0.5 else 0)
            else:
                pixels.append(pair_index(a, b, frac))
    return pixels

PAIRS = {}
def pair_index(a, b, frac):
    # Palette layout: index c*16 is colour c solid; blends live at 64 + pair*16 + level.
    key = (min(a, b), max(a, b))
    level = round((frac if a == key[0] else 1 - frac) * 15)
    if level == 15: return key[0] * 16
    if level == 0: return key[1] * 16
    pair = {(1, 2): 0, (1, 3): 1, (2, 3): 2}[key]
    return 64 + pair * 16 + level

def build_palette(colors):
    pal = [(0, 0, 0)] * 256
    for c in range(1, 4):
        pal[c * 16] = colors[c]
    for pair, (a, b) in enumerate([(1, 2), (1, 3), (2, 3)]):
        for level in range(16):
            t = level / 15
            pal[64 + pair * 16 + level] = tuple(round(colors[a][i] * t + colors[b][i] * (1 - t)) for i in range(3))
    return pal

def lzw_uncompressed(pixels):
    """GIF LZW stream that never grows the code table: a clear code every 254 literals keeps codes 9 bits."""
    clear, eoi, out, acc, nbits = 256, 257, bytearray(), 0, 0
    def put(code):
        nonlocal acc, nbits
        acc |= code << nbits; nbits += 9
        while nbits >= 8:
            out.append(acc & 0xFF); acc >>= 8; nbits -= 8
    put(clear)
    for i, p in enumerate(pixels):
        if i and i % 254 == 0: put(clear)
        put(p)
    put(eoi)
    if nbits: out.append(acc & 0xFF)
    return bytes(out)

def gif(size, palette, pixels):
    data = bytearray(b'GIF89a' + struct.pack('<HHBBB', size, size, 0xF7, 0, 0))
    for r, g, b in palette: data += bytes((r, g, b))
    data += b'\x21\xF9\x04\x01\x00\x00\x00\x00'          # graphic control: index 0 transparent
    data += b'\x2C' + struct.pack('<HHHHB', 0, 0, size, size, 0) + b'\x08'
    stream = lzw_uncompressed(pixels)
    for i in range(0, len(stream), 255):
        chunk = stream[i:i + 255]; data += bytes((len(chunk),)) + chunk
    data += b'\x00\x3B'
    return bytes(data)

COLOR = {1: (0x1F, 0x5F, 0xBF), 2: (0xF4, 0xF7, 0xFB), 3: (0x1F, 0x5F, 0xBF)}
GRAY = {c: (round(sum(v) / 3),) * 3 for c, v in COLOR.items()}
GRAY[1] = (0x8A, 0x8A, 0x8A); GRAY[3] = (0x8A, 0x8A, 0x8A)

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'qpkg', 'icons')
os.makedirs(here, exist_ok=True)
for name, size, colors in [('SecureIPAccess.gif', 64, COLOR), ('SecureIPAccess_gray.gif', 64, GRAY),
                           ('SecureIPAccess_80.gif', 80, COLOR)]:
    with open(os.path.join(here, name), 'wb') as f:
        f.write(gif(size, build_palette(colors), render(size, None)))
    print(name, size)
