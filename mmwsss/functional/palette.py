"""Label palettes: the VOC colour map (bit-interleaved), for any number of labels."""
from typing import List


def voc_colormap(n: int = 256) -> List[List[int]]:
    """The PASCAL VOC colour map for labels 0..n-1 (0 black)."""
    pal = []
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal.append([r, g, b])
    return pal
