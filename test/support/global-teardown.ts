import { globalTeardown } from './db';
export default globalTeardown;
