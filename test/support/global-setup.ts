import { globalSetup } from './db';
export default globalSetup;
