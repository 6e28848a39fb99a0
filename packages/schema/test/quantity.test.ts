import { imageProblem, labelKeyProblem, parseImageReference, parseS3Uri } from '../src/names';
import { cpuToMillis, describeBytes, formatBytes, formatCpu, parseQuantity } from '../src/quantity';

describe('Kubernetes quantities', () => {
  it.each([
    ['2', 2],
    [2, 2],
    ['500m', 0.5],
    ['0.5', 0.5],
    ['.5', 0.5],
    ['1.', 1],
    ['+1', 1],
    ['100u', 1e-4],
    ['5n', 5e-9],
    ['1k', 1000],
    ['1M', 1e6],
    ['4G', 4e9],
    ['1Ki', 1024],
    ['500Mi', 500 * 2 ** 20],
    ['4Gi', 4 * 2 ** 30],
    ['1Ti', 2 ** 40],
    ['1e3', 1000],
    ['12E', 12e18],
    ['1E3', 1000],
    ['2e-3', 0.002],
  ])('%s is %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 12);
  });

  it.each([
    '',
    ' ',
    '4GB',
    '1gi',
    'Mi',
    '1.2.3',
    '1e',
    '1Ki1',
    '1 Gi',
    'one',
    '1e3m',
    '--1',
    'Infinity',
    'NaN',
  ])('%j is not a quantity', (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });

  it('formats CPU in the shortest exact form', () => {
    expect(formatCpu(2000)).toBe('2');
    expect(formatCpu(500)).toBe('500m');
    expect(formatCpu(1500)).toBe('1500m');
    expect(cpuToMillis(0.0001)).toBe(1); // Kubernetes rounds CPU up to 1m
    expect(cpuToMillis(0.25)).toBe(250);
  });

  it('formats bytes with the largest whole binary suffix', () => {
    expect(formatBytes(4 * 2 ** 30)).toBe('4Gi');
    expect(formatBytes(1536 * 2 ** 20)).toBe('1536Mi');
    expect(formatBytes(1000)).toBe('1000');
    expect(formatBytes(2048)).toBe('2Ki');
    expect(describeBytes(1.5 * 2 ** 30)).toBe('1.5 GiB');
    expect(describeBytes(800 * 2 ** 20)).toBe('800 MiB');
  });
});

describe('names', () => {
  it('splits image references', () => {
    expect(parseImageReference('tensorflow/serving:2.19.0')).toEqual({
      repository: 'tensorflow/serving',
      tag: '2.19.0',
    });
    expect(parseImageReference('localhost:5000/serving')).toEqual({ repository: 'localhost:5000/serving' });
    expect(parseImageReference('localhost:5000/serving:1@sha256:00')).toEqual({
      repository: 'localhost:5000/serving',
      tag: '1',
      digest: 'sha256:00',
    });
  });

  it('explains an untagged image', () => {
    expect(imageProblem('tensorflow/serving')?.message).toBe(
      "image 'tensorflow/serving' has no tag, so it means :latest and changes under you",
    );
    expect(imageProblem('localhost:5000/serving')?.fix).toContain('localhost:5000/serving:2.19.0');
  });

  it('splits S3 URIs', () => {
    expect(parseS3Uri('s3://bucket/a/b/')).toEqual({ location: { bucket: 'bucket', prefix: 'a/b' } });
    expect(parseS3Uri('s3://bucket')).toEqual({ location: { bucket: 'bucket', prefix: '' } });
    expect(parseS3Uri('s3://b/x').problem).toBe("bucket 'b': bucket names are 3 to 63 characters long");
  });

  it('checks label key prefixes as DNS subdomains', () => {
    expect(labelKeyProblem('a.b-c.example/x')).toBeUndefined();
    expect(labelKeyProblem('a_b/x')).toContain('not a DNS subdomain');
    expect(labelKeyProblem('a/')).toBe('the name part is empty');
  });
});
