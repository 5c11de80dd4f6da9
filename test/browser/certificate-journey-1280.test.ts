import { describeCertificateJourney } from './certificate-journey.js';

describeCertificateJourney(1280);
