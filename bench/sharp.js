// bench/sharp.js: the reference design's image step, sharp with mozjpeg,
// on one input, N times: cover-resize to 512x512, JPEG q80, 4:2:0.
// Prints the median milliseconds per image and the output's bytes.
// Usage: node sharp.js INPUT OUTPUT.jpg [N]
'use strict';
const fs = require('fs');
const sharp = require('sharp');

async function main() {
  const [input, output, n = '30'] = process.argv.slice(2);
  const buf = fs.readFileSync(input);
  const times = [];
  let out;
  for (let i = 0; i < Number(n); i++) {
    const start = process.hrtime.bigint();
    out = await sharp(buf)
      .resize(512, 512, { fit: 'cover' })
      .jpeg({ quality: 80, mozjpeg: true, chromaSubsampling: '4:2:0' })
      .toBuffer();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  fs.writeFileSync(output, out);
  times.sort((a, b) => a - b);
  console.log(`ms=${times[times.length >> 1].toFixed(2)}\nbytes=${out.length}`);
}

main().catch((e) => { console.error(`sharp.js: ${e.message}`); process.exit(1); });
