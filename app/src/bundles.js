// Chunk fetches served from the page's preloaded bundles (app/src/bundles.rs).
(() => {
  const load = window.fetch.bind(window);
  let chunks;
  const read = (bytes) => {
    const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), found = new Map();
    let i = 8;
    const leb = () => {
      let n = 0, shift = 0, byte;
      do { byte = b[i++]; n += (byte & 127) * 2 ** shift; shift += 7; } while (byte & 128);
      return n;
    };
    if (b[0] !== 0 || b[1] !== 97 || b[2] !== 115 || b[3] !== 109) return found;
    while (i < b.length) {
      const id = b[i++], end = leb() + i;
      if (id === 0) {
        const length = leb();
        found.set(new TextDecoder().decode(b.subarray(i, i + length)), b.subarray(i + length, end));
      }
      i = end;
    }
    return found;
  };
  const bundled = () => (chunks ??= Promise.all(
    [...document.querySelectorAll('link[rel="preload"][href*="/bundle_"]')].map((link) =>
      load(link.href)
        .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(r.status)))
        // An LZMA copy (a browser without brotli, app/src/bundles.rs).
        .then((b) => read(link.href.endsWith('.lzma') ? lzmaDecode(new Uint8Array(b)) : b))
        .catch(() => new Map())),
  ).then((maps) => new Map(maps.flatMap((m) => [...m]))));
  window.fetch = function (input, init) {
    const path = new URL(input instanceof Request ? input.url : input, location.href).pathname;
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (!/^(chunk_|split_).*\.wasm$/.test(name)) return load(input, init);
    return bundled().then((found) => {
      const bytes = found.get(name);
      if (!bytes) return load(input, init);
      found.delete(name);
      return new Response(bytes, { headers: { 'Content-Type': 'application/wasm' } });
    });
  };
  // An LZMA bundle is decoded as soon as it has arrived, while the main
  // module is compiled, not when the first chunk is asked for.
  if (document.querySelector('link[rel="preload"][href*="/bundle_"][href$=".lzma"]')) bundled();
})();
