import { useCallback, useEffect, useState } from 'preact/hooks'

/** Loads on mount and when `deps` change; `reload` runs it again (after a change). */
export const useLoad = <T,>(load: () => Promise<T>, deps: unknown[]) => {
  const [data, setData] = useState<T>()
  const [error, setError] = useState<unknown>()
  const [loading, setLoading] = useState(true)
  const run = useCallback(async () => {
    setLoading(true)
    try {
      setData(await load())
      setError(undefined)
    } catch (err) {
      setError(err)
    } finally {
      setLoading(false)
    }
  }, deps)
  useEffect(() => {
    void run()
  }, [run])
  return { data, error, loading, reload: run }
}
