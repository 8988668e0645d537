#!/usr/bin/env node
// Draws Parley's placeholder icon (a white speech bubble on a blue rounded square) as real PNGs:
// build/icon.png (512 px, electron-builder's source for every platform) and
// renderer/public/favicon.png (64 px). Deterministic; run again only to change the design.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Coverage of the shape at a point in unit coordinates (0..1): 0 transparent, 1 bubble, 2 tile. */
function shapeAt(x, y) {
  const r = 0.2; // tile corner radius
  const cx = Math.min(Math.max(x, r), 1 - r);
  const cy = Math.min(Math.max(y, r), 1 - r);
  if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) return 0;
  const inEllipse = ((x - 0.5) / 0.32) ** 2 + ((y - 0.46) / 0.24) ** 2 <= 1;
  // tail: triangle below the left half of the ellipse
  const inTail = y >= 0.6 && y <= 0.8 && x >= 0.3 && x <= 0.3 + (0.8 - y) * 1.2 && x <= 0.48;
  return inEllipse || inTail ? 1 : 2;
}

function png(size) {
  const tile = [26, 95, 208];
  const bubble = [255, 255, 255];
  const samples = 4;
  const rows = [];
  for (let py = 0; py < size; py++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0, then RGBA
    for (let px = 0; px < size; px++) {
      let a = 0;
      let rgb = [0, 0, 0];
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const s = shapeAt((px + (sx + 0.5) / samples) / size, (py + (sy + 0.5) / samples) / size);
          if (s === 0) continue;
          a++;
          const c = s === 1 ? bubble : tile;
          rgb = rgb.map((v, i) => v + c[i]);
        }
      }
      const o = 1 + px * 4;
      if (a > 0) for (let i = 0; i < 3; i++) row[o + i] = Math.round(rgb[i] / a);
      row[o + 3] = Math.round((255 * a) / (samples * samples));
    }
    rows.push(row);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

for (const [file, size] of [
  ['build/icon.png', 512],
  ['renderer/public/favicon.png', 64],
]) {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), png(size));
  console.log(`wrote ${file} (${size}x${size})`);
}
