/**
 * Views of a data set: the first N samples, or every sample resized.
 */
import { resizeBilinear, resizeNearest } from './transforms';
import { checkIndex, Dataset, Sample } from './types';

/** The samples `indices` of `ds`, in that order, as a data set of the same kind. */
export function subset<D extends Dataset>(ds: D, indices: number[]): D {
  for (const i of indices) checkIndex(i, ds.length, `subset of ${ds.name}`);
  const view = Object.create(ds) as D;
  Object.defineProperty(view, 'length', { value: indices.length });
  Object.defineProperty(view, 'get', {
    value: (i: number) => {
      checkIndex(i, indices.length, `${ds.name}.get`);
      return ds.get(indices[i]);
    },
  });
  return view;
}

/** `ds` with every sample resized to [height, width]: bilinear image, nearest-neighbour mask. */
export function resized<D extends Dataset>(ds: D, size: [number, number]): D {
  const [H, W] = size;
  if (!(Number.isInteger(H) && Number.isInteger(W) && H >= 1 && W >= 1)) throw new RangeError(`resized: size must be two positive integers, got [${size}]`);
  const view = Object.create(ds) as D;
  Object.defineProperty(view, 'get', {
    value: (i: number): Sample => {
      const s = ds.get(i);
      if (s.height === H && s.width === W) return s;
      const image = resizeBilinear(s.image, s.channels, s.height, s.width, H, W);
      if ('mask' in s) return { ...s, image, mask: resizeNearest(s.mask, s.height, s.width, H, W), height: H, width: W };
      return { ...s, image, height: H, width: W };
    },
  });
  return view;
}
