import { realControllerSuite } from './scenarios.js';

realControllerSuite('static');
