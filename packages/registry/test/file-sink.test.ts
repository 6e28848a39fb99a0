import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingFileSink } from '../src/file-sink';
import { tempDir } from './helpers';

const openFds = () => fs.readdirSync('/proc/self/fd').length;

describe('HashingFileSink', () => {
  it('writes every chunk in order, in batches, and reports the size and sha256 of what it received', async () => {
    // Chunk sizes around the batch size: smaller, equal, larger, and a last partial batch.
    const sizes = [1, 7, 4096, 65_536, 300_000, 1, 1_048_576, 2_500_000, 13, 65_535];
    const chunks = sizes.map((n) => randomBytes(n));
    const whole = Buffer.concat(chunks);
    const file = path.join(tempDir(), 'out.bin');
    let counted = 0;
    const sink = new HashingFileSink(file, 1024 * 1024, (n) => {
      counted += n;
    });
    await pipeline(Readable.from(chunks), sink);
    expect(sink.result()).toEqual({
      size: whole.length,
      sha256: createHash('sha256').update(whole).digest('hex'),
    });
    expect(counted).toBe(whole.length);
    expect(fs.readFileSync(file).equals(whole)).toBe(true);
  });

  it('never writes into a file already at the path, and closes its file when the stream fails', async () => {
    const dir = tempDir();
    const existing = path.join(dir, 'there');
    fs.writeFileSync(existing, 'keep me');
    await expect(
      pipeline(Readable.from([Buffer.from('x')]), new HashingFileSink(existing, 1024, () => undefined)),
    ).rejects.toMatchObject({ code: 'EEXIST' });
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me');

    const before = openFds();
    const failing = new Readable({
      read() {
        this.push(randomBytes(10_000));
        this.destroy(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
      },
    });
    const cut = new HashingFileSink(path.join(dir, 'cut'), 1024, () => undefined);
    const closed = new Promise((resolve) => cut.once('close', resolve));
    await expect(pipeline(failing, cut)).rejects.toThrow('connection reset');
    await closed;
    expect(openFds()).toBe(before);
  });
});
