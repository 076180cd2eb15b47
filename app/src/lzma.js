// LZMA decoder for browsers that offer no brotli (app/src/bundles.rs): the
// ".lzma" files the server writes (static_files::write_lzma). Written from
// Igor Pavlov's LZMA specification (LzmaSpec, public domain).
function lzmaDecode(src) {
  let inPos = 13;
  const d = src[0];
  if (d >= 9 * 5 * 5) throw new Error('lzma: bad properties');
  const lc = d % 9, lp = ((d / 9) | 0) % 5, pb = (d / 45) | 0;
  const lo = src[5] | (src[6] << 8) | (src[7] << 16) | (src[8] << 24);
  const hi = src[9] | (src[10] << 8) | (src[11] << 16) | (src[12] << 24);
  const sizeKnown = !(lo === -1 && hi === -1);
  if (sizeKnown && hi !== 0) throw new Error('lzma: too large');
  const size = lo >>> 0;
  let out = new Uint8Array(sizeKnown ? size : Math.max(1 << 16, src.length * 4));
  let pos = 0;

  // Range decoder.
  if (src[inPos++] !== 0) throw new Error('lzma: bad stream');
  let range = 0xffffffff | 0, code = 0;
  for (let i = 0; i < 4; i++) code = (code << 8) | src[inPos++];
  const probs = new Uint16Array(1846 + (0x300 << (lc + lp))).fill(1024);
  // Layout of probs (offsets).
  const IS_MATCH = 0, IS_REP = 192, IS_REP_G0 = 204, IS_REP_G1 = 216,
    IS_REP_G2 = 228, IS_REP0_LONG = 240, POS_SLOT = 432, SPEC_POS = 688,
    ALIGN = 802, LEN = 818, REP_LEN = 1332, LITERAL = 1846;

  const bit = (i) => {
    const p = probs[i];
    const bound = (range >>> 11) * p;
    let b;
    if ((code ^ 0x80000000) < (bound ^ 0x80000000)) {
      range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      b = 0;
    } else {
      range = (range - bound) | 0;
      code = (code - bound) | 0;
      probs[i] = p - (p >>> 5);
      b = 1;
    }
    if ((range >>> 0) < 0x1000000) {
      range <<= 8;
      code = (code << 8) | src[inPos++];
    }
    return b;
  };
  const tree = (base, bits) => {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) + bit(base + m);
    return m - (1 << bits);
  };
  const reverse = (base, bits) => {
    let m = 1, sym = 0;
    for (let i = 0; i < bits; i++) {
      const b = bit(base + m);
      m = (m << 1) + b;
      sym |= b << i;
    }
    return sym;
  };
  const direct = (bits) => {
    let res = 0;
    for (; bits > 0; bits--) {
      range = range >>> 1;
      code = (code - range) | 0;
      const t = code >> 31; // 0 or -1
      code = (code + (range & t)) | 0;
      res = (res << 1) + (t + 1);
      if ((range >>> 0) < 0x1000000) {
        range <<= 8;
        code = (code << 8) | src[inPos++];
      }
    }
    return res >>> 0;
  };
  // Length: choice, choice2, low[16][8], mid[16][8], high[256].
  const length = (base, posState) => {
    if (!bit(base)) return tree(base + 2 + (posState << 3), 3);
    if (!bit(base + 1)) return 8 + tree(base + 130 + (posState << 3), 3);
    return 16 + tree(base + 258, 8);
  };
  const grow = (need) => {
    if (need <= out.length) return;
    const bigger = new Uint8Array(Math.max(need, out.length * 2));
    bigger.set(out);
    out = bigger;
  };

  const pbMask = (1 << pb) - 1, lpMask = (1 << lp) - 1;
  let state = 0, rep0 = 0, rep1 = 0, rep2 = 0, rep3 = 0;
  while (!sizeKnown || pos < size) {
    if (inPos > src.length) throw new Error('lzma: truncated');
    const posState = pos & pbMask;
    if (!bit(IS_MATCH + (state << 4) + posState)) {
      const prev = pos > 0 ? out[pos - 1] : 0;
      const base = LITERAL + 0x300 * (((pos & lpMask) << lc) + (prev >>> (8 - lc)));
      let sym = 1;
      if (state >= 7) {
        let match = out[pos - rep0 - 1];
        do {
          const mb = (match >>> 7) & 1;
          match <<= 1;
          const b = bit(base + ((1 + mb) << 8) + sym);
          sym = (sym << 1) | b;
          if (mb !== b) break;
        } while (sym < 0x100);
      }
      while (sym < 0x100) sym = (sym << 1) | bit(base + sym);
      if (!sizeKnown) grow(pos + 1);
      out[pos++] = sym & 0xff;
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      continue;
    }
    let len;
    if (bit(IS_REP + state)) {
      if (pos === 0) throw new Error('lzma: bad stream');
      if (!bit(IS_REP_G0 + state)) {
        if (!bit(IS_REP0_LONG + (state << 4) + posState)) {
          state = state < 7 ? 9 : 11;
          if (!sizeKnown) grow(pos + 1);
          out[pos] = out[pos - rep0 - 1];
          pos++;
          continue;
        }
      } else {
        let dist;
        if (!bit(IS_REP_G1 + state)) {
          dist = rep1;
        } else {
          if (!bit(IS_REP_G2 + state)) {
            dist = rep2;
          } else {
            dist = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = dist;
      }
      len = length(REP_LEN, posState);
      state = state < 7 ? 8 : 11;
    } else {
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      len = length(LEN, posState);
      state = state < 7 ? 7 : 10;
      const slot = tree(POS_SLOT + ((len < 3 ? len : 3) << 6), 6);
      if (slot < 4) {
        rep0 = slot;
      } else {
        const n = (slot >>> 1) - 1;
        let dist = ((2 | (slot & 1)) << n) >>> 0;
        if (slot < 14) {
          dist += reverse(SPEC_POS + dist - slot - 1, n);
        } else {
          dist += direct(n - 4) * 16;
          dist += reverse(ALIGN, 4);
        }
        rep0 = dist >>> 0;
        if (rep0 === 0xffffffff) break; // the end marker
      }
      if (rep0 >= pos) throw new Error('lzma: bad distance');
    }
    len += 2;
    if (sizeKnown) {
      if (len > size - pos) throw new Error('lzma: too long');
    } else {
      grow(pos + len);
    }
    for (let from = pos - rep0 - 1; len > 0; len--) out[pos++] = out[from++];
  }
  if (inPos > src.length) throw new Error('lzma: truncated');
  return sizeKnown ? out : out.subarray(0, pos);
}

// The main module from its LZMA copy, as a response the wasm-bindgen glue
// compiles; its gzip copy when the LZMA copy cannot be fetched or decoded.
const unpacked = (url) => fetch(`${url}.lzma`)
  .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(r.status)))
  .then((buffer) => new Response(lzmaDecode(new Uint8Array(buffer)), {
    headers: { 'Content-Type': 'application/wasm' },
  }))
  .catch(() => fetch(url));
