import { render } from 'preact'

render(<p>Management tokens console</p>, document.getElementById('app') as HTMLElement)
