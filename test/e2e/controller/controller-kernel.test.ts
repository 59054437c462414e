import { controllerSuite } from './scenarios.js';

controllerSuite('kernel');
