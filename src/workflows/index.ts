// The worker's workflow bundle: every workflow type the task queue serves.
export { generation } from './generation';
export { holdSweeper } from './hold-sweeper';
