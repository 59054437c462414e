import { controllerSuite } from './scenarios.js';

controllerSuite('static');
