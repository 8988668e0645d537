// The `parley` ESLint plugin: the house rules lint enforces (eslint.config.js turns them on;
// test/lint/boundaries.test.ts proves each one fires on a fixture).
import { boundaries } from './boundaries.js';
import { noCycle } from './no-cycle.js';

export default { rules: { boundaries, 'no-cycle': noCycle } };
