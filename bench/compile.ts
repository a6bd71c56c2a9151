import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..')

/**
 * Compiles `checkout` (this project by default, or another checkout of it) with this project's
 * tsc, as `npm run build` does for the service, so a bench can run what `npm start` runs.
 */
export const compileService = (checkout: string = root): void => {
  const config = join(checkout, 'tsconfig.json')
  const built = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], { stdio: 'inherit' })
  if (built.status !== 0) throw new Error(`tsc -p ${config} failed`)
}
