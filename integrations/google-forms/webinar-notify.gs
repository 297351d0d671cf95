/**
 * Google Forms → webinar-notify. Google Forms has no webhooks: this Apps Script runs on every
 * form submission and posts the answers as webinar-notify's signed JSON (provider "generic").
 * Setup: docs/providers/google-forms.md.
 */

// The stack's WebhookUrl output, with {provider} = generic and {series_id} = your series.
const WEBHOOK_URL = 'https://abc123.execute-api.eu-west-1.amazonaws.com/webhooks/generic/reirradiation-2023';

// The form's question titles, as written in the form.
const QUESTIONS = {
  fullName: 'Full name',
  email: 'Email',          // not needed when the form collects verified email addresses
  timeZone: 'Time zone',   // optional: a question (or pre-filled field) with e.g. Asia/Riyadh
  sessions: 'Sessions',    // optional: a checkbox question; no answer = the whole series
};

// Checkbox labels → session ids of the series file.
const CHOICES = {
  '26 Oct 2023: Reirradiation Challenges & Opportunities': 's1',
  '6 Nov 2023: Challenges in the Clinical Reirradiation Workflow': 's2',
};

function onFormSubmit(e) {
  const answers = {};
  e.response.getItemResponses().forEach(function (r) {
    answers[r.getItem().getTitle()] = r.getResponse();
  });
  const data = {
    registrant: {
      email: e.response.getRespondentEmail() || answers[QUESTIONS.email] || '',
      full_name: answers[QUESTIONS.fullName] || '',
    },
  };
  if (answers[QUESTIONS.timeZone]) data.registrant.time_zone = answers[QUESTIONS.timeZone];
  const picked = answers[QUESTIONS.sessions];
  if (picked && picked.length) {
    data.sessions = [].concat(picked).map(function (label) { return CHOICES[label] || label; });
  }
  const body = JSON.stringify({
    id: e.response.getId(),
    type: 'registration.created',
    created: Math.floor(e.response.getTimestamp().getTime() / 1000),
    data: data,
  });
  const secret = PropertiesService.getScriptProperties().getProperty('WEBINAR_NOTIFY_SECRET');
  const t = Math.floor(Date.now() / 1000);
  const mac = Utilities.computeHmacSha256Signature(t + '.' + body, secret, Utilities.Charset.UTF_8);
  const hex = mac.map(function (b) { return ('0' + (b & 0xff).toString(16)).slice(-2); }).join('');
  const answer = UrlFetchApp.fetch(WEBHOOK_URL, {
    method: 'post',
    contentType: 'application/json; charset=utf-8',
    payload: body,
    headers: { 'Webinar-Signature': 't=' + t + ',v1=' + hex },
    muteHttpExceptions: true,
  });
  if (answer.getResponseCode() >= 300) {
    console.error('webinar-notify answered ' + answer.getResponseCode() + ': ' + answer.getContentText());
  }
}
