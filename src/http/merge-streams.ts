/**
 * Interleaves several async iterables as their items arrive, tagging each with its source's index: a
 * completions batch runs one generation per prompt at once. Returning early returns every source.
 */
export async function* mergeStreams<T>(sources: ReadonlyArray<AsyncIterable<T>>): AsyncGenerator<[number, T]> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]())
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>()
  const pull = (index: number) => pending.set(index, iterators[index]!.next().then((result) => ({ index, result })))
  iterators.forEach((_, i) => pull(i))
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values())
      if (result.done) {
        pending.delete(index)
        continue
      }
      pull(index)
      yield [index, result.value]
    }
  } finally {
    await Promise.all(iterators.map((it) => it.return?.()))
  }
}
