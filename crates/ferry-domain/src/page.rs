//! Pagination as MX does it: `page` from 1, `records_per_page` defaulting to 25, a value above
//! the endpoint's maximum silently falling back to 25.

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    pub const DEFAULT_PER_PAGE: u32 = 25;
    pub const MAX_PER_PAGE: u32 = 1000;
    pub const MAX_PER_PAGE_INSTITUTIONS: u32 = 100;

    /// Applies MX's rules; `max` is 1,000 for most lists and 100 for institutions.
    pub fn new(page: Option<i64>, per_page: Option<i64>, max: u32) -> Self {
        let page = match page {
            Some(p) if p >= 1 => p.min(i64::from(u32::MAX / 2)) as u32,
            _ => 1,
        };
        let per_page = match per_page {
            Some(n) if n >= 1 && n <= i64::from(max) => n as u32,
            _ => Self::DEFAULT_PER_PAGE,
        };
        Self { page, per_page }
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, per_page: Self::DEFAULT_PER_PAGE }
    }
}

/// One page of results and the totals MX reports in its `pagination` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub request: PageRequest,
    pub total_entries: i64,
}

impl<T> Page<T> {
    /// Pages a list that is already in memory (short lists such as credential fields).
    pub fn of(items: Vec<T>, request: PageRequest) -> Self {
        let total_entries = items.len() as i64;
        let items = items.into_iter().skip(request.offset() as usize).take(request.per_page as usize).collect();
        Page { items, request, total_entries }
    }

    pub fn total_pages(&self) -> i64 {
        let per = i64::from(self.request.per_page);
        (self.total_entries + per - 1) / per
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            request: self.request,
            total_entries: self.total_entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_25_above_the_maximum() {
        assert_eq!(PageRequest::new(None, None, 1000), PageRequest { page: 1, per_page: 25 });
        assert_eq!(PageRequest::new(Some(3), Some(1000), 1000).per_page, 1000);
        assert_eq!(PageRequest::new(Some(3), Some(1001), 1000).per_page, 25);
        assert_eq!(PageRequest::new(Some(1), Some(101), 100).per_page, 25);
        assert_eq!(PageRequest::new(Some(0), Some(0), 100), PageRequest { page: 1, per_page: 25 });
        assert_eq!(PageRequest::new(Some(3), Some(10), 100).offset(), 20);
    }
}
